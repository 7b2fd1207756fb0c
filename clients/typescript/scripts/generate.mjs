// Writes src/schema.ts from an mt5-bridge OpenAPI document, and src/stream-messages.ts from the
// AsyncAPI document served beside it:
//   node scripts/generate.mjs http://127.0.0.1:8080/openapi.json
// The tests regenerate both from the service they start and fail when either differs.
import { writeFile } from "node:fs/promises";
import { generate } from "./schema.mjs";
import { generateStream } from "./stream.mjs";

const source = process.argv[2];
if (!source) {
  console.error("usage: node scripts/generate.mjs <URL of /openapi.json>");
  process.exit(2);
}
const doc = await (await fetch(source)).json();
await writeFile(new URL("../src/schema.ts", import.meta.url), await generate(doc));
console.log("src/schema.ts written");
const asyncapi = await (await fetch(new URL("/asyncapi.json", source))).json();
await writeFile(new URL("../src/stream-messages.ts", import.meta.url), generateStream(asyncapi, doc));
console.log("src/stream-messages.ts written");
