// Writes src/schema.ts from an mt5-bridge OpenAPI document:
//   node scripts/generate.mjs http://127.0.0.1:8080/openapi.json
// The tests regenerate it from the service they start and fail when it differs.
import { writeFile } from "node:fs/promises";
import { generate } from "./schema.mjs";

const source = process.argv[2];
if (!source) {
  console.error("usage: node scripts/generate.mjs <URL of /openapi.json>");
  process.exit(2);
}
const doc = await (await fetch(source)).json();
await writeFile(new URL("../src/schema.ts", import.meta.url), await generate(doc));
console.log("src/schema.ts written");
