// The console is built into dist/, which is committed and embedded in the binary: the build must
// give the same bytes on every machine (no timestamps, stable names), and load nothing from
// another origin.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  base: "/console/",
  // The project's typed client, from its TypeScript source (a `file:` dependency); its one
  // runtime dependency resolves from this package's lockfile.
  resolve: {
    alias: {
      "@mt5-bridge/client": here("./node_modules/@mt5-bridge/client/src/index.ts"),
    },
    dedupe: ["openapi-fetch"],
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    assetsInlineLimit: 0,
    // Lightweight Charts in one chunk, named for what it
    // is, shared by the screens that draw a chart and loaded only with them.
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [{ name: "charts", test: /node_modules[\\/](lightweight-charts|fancy-canvas)[\\/]/ }],
        },
      },
    },
  },
});
