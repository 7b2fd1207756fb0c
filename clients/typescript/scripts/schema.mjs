// The one way src/schema.ts is made from the OpenAPI document (used by generate.mjs and the drift test).
import openapiTS, { astToString } from "openapi-typescript";

export const HEADER =
  "// Generated from mt5-bridge's /openapi.json by scripts/generate.mjs (openapi-typescript); do not edit.\n";

export async function generate(doc) {
  const ast = await openapiTS(doc, { alphabetize: true });
  return HEADER + astToString(ast);
}
