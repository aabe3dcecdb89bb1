// Runs bench-tools built for wasm32-wasip1 under Node's V8 (the engine Envoy embeds), so the
// micro-benchmarks can be compared native vs Wasm. Usage: node wasi-run.mjs TOOL.wasm DATA_DIR ARGS...
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";

const [wasmPath, dataDir, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: "preview1",
  args: ["bench-tools", ...args.map((a) => (a === dataDir ? "/data" : a))],
  preopens: { "/data": dataDir },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
// The library's proxy-wasm shell is linked in on wasip1 but never called here: stub its imports.
const env = {};
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.module === "env" && imp.kind === "function") env[imp.name] = () => 0;
}
const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env });
// The shell's `_initialize` export (proxy-wasm's entry) would make Node treat this as a reactor.
const { memory, _start } = instance.exports;
process.exitCode = wasi.start({ exports: { memory, _start } });
