// The shipped JavaScript, gzipped, must stay within 250 KB in total (docs/console.md).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const LIMIT = 250 * 1024;
const dir = new URL("../dist/assets/", import.meta.url).pathname;
let total = 0;
for (const f of readdirSync(dir).filter((f) => f.endsWith(".js"))) {
  const size = gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
  total += size;
  console.log(`${f}: ${(size / 1024).toFixed(1)} KB gzip`);
}
console.log(`console JavaScript: ${(total / 1024).toFixed(1)} KB gzip in total (limit ${LIMIT / 1024} KB)`);
if (total > LIMIT) {
  console.error("the console's JavaScript is over 250 KB gzip");
  process.exit(1);
}
