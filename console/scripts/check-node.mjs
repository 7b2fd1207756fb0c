// The console's build (Vite) needs Node 20.19 or later.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`the console needs Node 20.19 or later (this is ${process.versions.node})`);
  process.exit(1);
}
