// Runs a WASI (preview 1) program under Node's `node:wasi`, as a cargo runner:
//   CARGO_TARGET_WASM32_WASIP1_RUNNER="node tools/wasi-run.mjs"
// The program sees the host's file system (the tests read fixtures and proptest writes
// its regression files by absolute path), its arguments and environment; its exit code is
// the process's.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const [wasmPath, ...args] = process.argv.slice(2);
const wasi = new WASI({
    version: "preview1",
    args: [wasmPath, ...args],
    env: process.env,
    preopens: { "/": "/" },
    returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
