// Classifies MNIST digits with the wasm32-unknown-unknown build of this crate, through
// its C ABI (src/ffi.rs): the check that the module a web page would load works, from a
// plain Node with no bundler and no glue code.
//
//   cargo build -p wasm-mnist --lib --target wasm32-unknown-unknown --profile wasm
//   node embedded/wasm-mnist/classify.mjs            all 100 test digits: accuracy, time
//   node embedded/wasm-mnist/classify.mjs 0 1 2      each digit drawn, then its class
//
// Options:
//   --wasm PATH       the module (default: target/wasm32-unknown-unknown/wasm/wasm_mnist.wasm
//                     under the workspace root)
//   --check           exit 1 if a digit given by index is classified other than its label
//   --min-correct N   over all 100 digits, exit 1 if fewer than N are right
//   --repeat R        classifications per digit when timing (default 20)
//
// The digits are examples/weights/mnist_test_digits.bin: the first 100 MNIST test images
// (784 bytes each, 0 the background and 255 full ink) followed by their 100 labels.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PIXELS = 28 * 28;
const CLASSES = 10;
const COUNT = 100;

const root = new URL('../../', import.meta.url);

function usage(message) {
  console.error(`error: ${message}`);
  console.error(
    'usage: node classify.mjs [--wasm PATH] [--check] [--min-correct N] [--repeat R] [INDEX...]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    wasm: fileURLToPath(new URL('target/wasm32-unknown-unknown/wasm/wasm_mnist.wasm', root)),
    check: false,
    minCorrect: null,
    repeat: 20,
    indices: [],
  };
  const count = (name, value, min, max) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      usage(`${name} takes a whole number from ${min} to ${max}, not '${value}'`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${arg} needs a value`));
    if (arg === '--wasm') options.wasm = value();
    else if (arg === '--check') options.check = true;
    else if (arg === '--min-correct') options.minCorrect = count(arg, value(), 0, COUNT);
    else if (arg === '--repeat') options.repeat = count(arg, value(), 1, 100000);
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else options.indices.push(count('a digit index', arg, 0, COUNT - 1));
  }
  return options;
}

// The module, with a small API over its exports. It imports nothing: on
// wasm32-unknown-unknown the network needs no host function, only its memory.
async function load(path) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    console.error(`error: cannot read ${path} (${e.code ?? e.message}); build it with`);
    console.error('  cargo build -p wasm-mnist --lib --target wasm32-unknown-unknown --profile wasm');
    process.exit(2);
  }
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const { memory, input_ptr, classify, probabilities_ptr } = instance.exports;
  return {
    bytes: bytes.length,
    // Views of `memory.buffer` are made after each call: the first classification loads
    // the weights and grows the memory, which detaches every earlier view.
    classify(pixels) {
      new Uint8Array(memory.buffer, input_ptr(), PIXELS).set(pixels);
      const digit = classify();
      const probabilities = Array.from(
        new Float32Array(memory.buffer, probabilities_ptr(), CLASSES),
      );
      return { digit, probabilities };
    },
    // The classification alone, for timing.
    classifyOnly(pixels) {
      new Uint8Array(memory.buffer, input_ptr(), PIXELS).set(pixels);
      return classify();
    },
  };
}

function readDigits() {
  const path = fileURLToPath(new URL('examples/weights/mnist_test_digits.bin', root));
  const data = readFileSync(path);
  if (data.length !== COUNT * (PIXELS + 1)) {
    console.error(`error: ${path} has ${data.length} bytes, not ${COUNT * (PIXELS + 1)}`);
    process.exit(2);
  }
  const labels = data.subarray(COUNT * PIXELS);
  return Array.from({ length: COUNT }, (_, i) => ({
    pixels: data.subarray(i * PIXELS, (i + 1) * PIXELS),
    label: labels[i],
  }));
}

// Two characters per pixel, so that the digit keeps its proportions in a terminal, in a
// frame that shows where it sits in its 28×28 image.
function render(pixels) {
  const ramp = ' .:-=+*#%@';
  const rows = ['+' + '-'.repeat(56) + '+'];
  for (let r = 0; r < 28; r++) {
    let row = '';
    for (let c = 0; c < 28; c++) {
      const ch = ramp[Math.floor((pixels[r * 28 + c] * ramp.length) / 256)];
      row += ch + ch;
    }
    rows.push(`|${row}|`);
  }
  rows.push(rows[0]);
  return rows.join('\n');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const options = parseArgs(process.argv.slice(2));
const model = await load(options.wasm);
const digits = readDigits();
let failed = false;

if (options.indices.length > 0) {
  for (const index of options.indices) {
    const { pixels, label } = digits[index];
    const { digit, probabilities } = model.classify(pixels);
    const right = digit === label;
    console.log(`digit ${index} (label ${label}):`);
    console.log(render(pixels));
    console.log(
      `predicted ${digit} (${(100 * probabilities[digit]).toFixed(1)} %)${right ? '' : `, not ${label}`}\n`,
    );
    if (options.check && !right) {
      console.error(`error: digit ${index} classified as ${digit}, not its label ${label}`);
      failed = true;
    }
  }
}

if (options.indices.length === 0 || options.minCorrect !== null) {
  // The first call loads the weights: kept out of the timings.
  model.classify(digits[0].pixels);
  let correct = 0;
  const wrong = [];
  const perDigit = [];
  for (const [index, { pixels, label }] of digits.entries()) {
    const { digit, probabilities } = model.classify(pixels);
    if (digit === label) correct++;
    else wrong.push(`${index} (${label} taken for ${digit}, ${(100 * probabilities[digit]).toFixed(1)} %)`);
    const start = process.hrtime.bigint();
    for (let r = 0; r < options.repeat; r++) model.classifyOnly(pixels);
    perDigit.push(Number(process.hrtime.bigint() - start) / options.repeat);
  }
  console.log(`${options.wasm}: ${model.bytes} bytes`);
  console.log(`${correct} of ${COUNT} digits right`);
  if (wrong.length > 0) console.log(`wrong: ${wrong.join(', ')}`);
  console.log(
    `time per digit: median ${(median(perDigit) / 1000).toFixed(1)} µs ` +
      `(${options.repeat} classifications of each of the ${COUNT} digits, Node ${process.version})`,
  );
  if (options.minCorrect !== null && correct < options.minCorrect) {
    console.error(`error: ${correct} of ${COUNT} right, fewer than ${options.minCorrect}`);
    failed = true;
  }
}

if (failed) process.exit(1);
