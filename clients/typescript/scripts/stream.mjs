// The one way src/stream-messages.ts is made from the service's AsyncAPI document (used by
// generate.mjs and the drift test): one type per message of the live stream, and the schemas only
// the stream has (StreamTick, StreamEvent); what the messages carry from the HTTP API refers to
// src/schema.ts's components.

export const HEADER =
  "// Generated from mt5-bridge's /asyncapi.json by scripts/generate.mjs (scripts/stream.mjs); do not edit.\n";

const PREFIX = "#/components/schemas/";

/** `stream` + the message's name in PascalCase: `unsubscribed` → `StreamUnsubscribed`. */
function typeName(message) {
  return "Stream" + message.replace(/(^|_)([a-z])/g, (_, __, c) => c.toUpperCase());
}

function doc(text, indent) {
  if (!text) return "";
  const body = String(text).replace(/\*\//g, "*\\/");
  return `${indent}/** ${body} */\n`;
}

function union(parts) {
  const unique = [...new Set(parts)];
  return unique.length === 1 ? unique[0] : unique.join(" | ");
}

/** The TypeScript of a JSON Schema; `local` names the schemas defined in this file. */
function ts(schema, local, indent) {
  if (schema.$ref) {
    const name = schema.$ref.slice(PREFIX.length);
    if (!schema.$ref.startsWith(PREFIX)) throw new Error(`unexpected reference ${schema.$ref}`);
    return local.has(name) ? name : `components["schemas"][${JSON.stringify(name)}]`;
  }
  if ("const" in schema) return JSON.stringify(schema.const);
  if (schema.enum) return union(schema.enum.map((v) => JSON.stringify(v)));
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return union(alternatives.map((s) => ts(s, local, indent)));
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return union(types.map((t) => single(t, schema, local, indent)));
}

function single(type, schema, local, indent) {
  switch (type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array": {
      const items = ts(schema.items ?? {}, local, indent);
      return /[ |&]/.test(items) ? `(${items})[]` : `${items}[]`;
    }
    case "object":
      return object(schema, local, indent);
    default:
      return "unknown";
  }
}

function object(schema, local, indent) {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  if (names.length === 0) {
    return schema.additionalProperties === false ? "Record<string, never>" : "{ [key: string]: unknown }";
  }
  const required = new Set(schema.required ?? []);
  const inner = indent + "  ";
  // Required first (`type` leading), each in the document's order.
  const ordered = [...names.filter((n) => required.has(n)), ...names.filter((n) => !required.has(n))];
  ordered.sort((a, b) => Number(b === "type") - Number(a === "type"));
  const lines = ordered.map((name) => {
    const p = properties[name];
    const optional = required.has(name) ? "" : "?";
    return `${doc(p.description, inner)}${inner}${name}${optional}: ${ts(p, local, inner)};`;
  });
  return `{\n${lines.join("\n")}\n${indent}}`;
}

/** The file, from the AsyncAPI document and the OpenAPI document src/schema.ts is made from. */
export function generateStream(asyncapi, openapi) {
  const api = new Set(Object.keys(openapi.components?.schemas ?? {}));
  const schemas = asyncapi.components?.schemas ?? {};
  const local = new Set(Object.keys(schemas).filter((name) => !api.has(name)));
  const out = [HEADER, 'import type { components } from "./schema.js";\n'];
  for (const name of [...local].sort()) {
    out.push(`\n${doc(schemas[name].description, "")}export type ${name} = ${ts(schemas[name], local, "")};\n`);
  }
  const messages = asyncapi.channels.stream.messages;
  for (const key of Object.keys(messages).sort()) {
    const m = messages[key];
    const name = typeName(m.name);
    // A message whose payload is a schema of the same name (`event`: StreamEvent) is that schema.
    if (m.payload.$ref === PREFIX + name) continue;
    out.push(`\n${doc(m.summary, "")}export type ${name} = ${ts(m.payload, local, "")};\n`);
  }
  for (const [direction, alias] of [
    ["send", "ClientMessage"],
    ["receive", "ServerMessage"],
  ]) {
    const names = Object.keys(asyncapi.operations)
      .sort()
      .filter((op) => asyncapi.operations[op].action === direction)
      .flatMap((op) => asyncapi.operations[op].messages.map((r) => typeName(messages[r.$ref.split("/").pop()].name)));
    out.push(`\n/** Every message the ${direction === "send" ? "client sends" : "server sends"}. */\n`);
    out.push(`export type ${alias} = ${union(names)};\n`);
  }
  return out.join("");
}
