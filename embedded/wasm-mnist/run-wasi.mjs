// Runs the wasm32-wasip1 build of this crate (src/main.rs) under Node's WASI and exits with
// its exit code, so that a shell or CI step sees the program's verdict: 0 when the
// embedded digits are classified well enough, 1 when not, and 1 as well, with a message,
// when the module traps (a panic, an out-of-bounds access) rather than exiting.
//
//   cargo build -p wasm-mnist --bin wasm-mnist --target wasm32-wasip1 --profile wasm
//   node --disable-warning=ExperimentalWarning embedded/wasm-mnist/run-wasi.mjs
//
// Options: --wasm PATH, the program (default:
// target/wasm32-wasip1/wasm/wasm-mnist.wasm under the workspace root); every other
// argument is passed to the program.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';

let wasm = fileURLToPath(new URL('../../target/wasm32-wasip1/wasm/wasm-mnist.wasm', import.meta.url));
let args = process.argv.slice(2);
if (args[0] === '--wasm') {
  if (args.length < 2) {
    console.error('error: --wasm needs a path');
    process.exit(2);
  }
  wasm = args[1];
  args = args.slice(2);
}

let bytes;
try {
  bytes = readFileSync(wasm);
} catch (e) {
  console.error(`error: cannot read ${wasm} (${e.code ?? e.message}); build it with`);
  console.error('  cargo build -p wasm-mnist --bin wasm-mnist --target wasm32-wasip1 --profile wasm');
  process.exit(2);
}

// No preopened directories: the program reads nothing but what is compiled into it.
const wasi = new WASI({
  version: 'preview1',
  args: ['wasm-mnist', ...args],
  env: {},
  returnOnExit: true,
});

let code;
try {
  const { instance } = await WebAssembly.instantiate(bytes, {
    wasi_snapshot_preview1: wasi.wasiImport,
  });
  // The program's exit code when it calls proc_exit; undefined when `_start` returns.
  code = wasi.start(instance) ?? 0;
} catch (e) {
  console.error(`error: ${wasm} trapped: ${e instanceof WebAssembly.RuntimeError ? e.message : e}`);
  if (e.stack) console.error(e.stack);
  code = 1;
}
process.exit(code);
