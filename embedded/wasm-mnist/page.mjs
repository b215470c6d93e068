// The page script of index.html: strokes on a 280×280 canvas, turned into a 28×28 digit
// the way MNIST's were made, classified through the module's C ABI (src/ffi.rs).

const PIXELS = 28 * 28;
const CLASSES = 10;
const params = new URLSearchParams(location.search);
const wasmUrl = params.get('wasm') ?? '../../target/wasm32-unknown-unknown/wasm/wasm_mnist.wasm';
const digitsUrl = '../../examples/weights/mnist_test_digits.bin';

const pad = document.getElementById('pad');
const seen = document.getElementById('seen');
const result = document.getElementById('result');
const bars = document.getElementById('bars');
const status = document.getElementById('status');
const padContext = pad.getContext('2d', { willReadFrequently: true });

function clear() {
  padContext.fillStyle = '#000';
  padContext.fillRect(0, 0, pad.width, pad.height);
  seen.getContext('2d').clearRect(0, 0, 28, 28);
  result.textContent = '';
  result.removeAttribute('data-digit');
  bars.replaceChildren();
}

// MNIST's digits were scaled to fit a 20×20 box, keeping their proportions, then placed
// in the 28×28 field with their centre of mass at its centre: a drawing is classified well
// only if it is brought to the same place and size.
function toDigit() {
  const { width, height } = pad;
  const ink = padContext.getImageData(0, 0, width, height).data;
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[(y * width + x) * 4] > 0) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
    }
  }
  if (right < 0) return null;
  const [w, h] = [right - left + 1, bottom - top + 1];
  const scale = 20 / Math.max(w, h);
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const context = small.getContext('2d', { willReadFrequently: true });
  context.fillStyle = '#000';
  context.fillRect(0, 0, 28, 28);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(pad, left, top, w, h, (28 - w * scale) / 2, (28 - h * scale) / 2, w * scale, h * scale);
  const rgba = context.getImageData(0, 0, 28, 28).data;
  const boxed = new Uint8Array(PIXELS);
  let [mass, mx, my] = [0, 0, 0];
  for (let p = 0; p < PIXELS; p++) {
    boxed[p] = rgba[p * 4];
    mass += boxed[p];
    mx += boxed[p] * (p % 28);
    my += boxed[p] * Math.floor(p / 28);
  }
  const [dx, dy] = [Math.round(13.5 - mx / mass), Math.round(13.5 - my / mass)];
  const pixels = new Uint8Array(PIXELS);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const [sx, sy] = [x - dx, y - dy];
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) pixels[y * 28 + x] = boxed[sy * 28 + sx];
    }
  }
  return pixels;
}

function show(pixels) {
  const image = new ImageData(28, 28);
  for (let p = 0; p < PIXELS; p++) {
    image.data.set([pixels[p], pixels[p], pixels[p], 255], p * 4);
  }
  seen.getContext('2d').putImageData(image, 0, 0);
}

function showResult(digit, probabilities) {
  result.textContent = `${digit} (${(100 * probabilities[digit]).toFixed(1)} %)`;
  result.dataset.digit = digit;
  bars.replaceChildren(
    ...probabilities.map((p, d) => {
      const row = document.createElement('div');
      row.className = 'bar';
      const label = document.createElement('span');
      label.textContent = `${d} ${(100 * p).toFixed(1).padStart(5)} %`;
      const bar = document.createElement('span');
      bar.style.width = `${Math.round(200 * p)}px`;
      row.append(label, bar);
      return row;
    }),
  );
}

async function instantiate(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  // Streaming compilation needs the server to say application/wasm; not every one does.
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), {});
  return instance.exports;
}

let exports;
try {
  exports = await instantiate(wasmUrl);
  status.textContent = `Module: ${wasmUrl}`;
} catch (e) {
  status.textContent = `Could not load the module (${e.message}); build it with cargo build -p wasm-mnist --lib --target wasm32-unknown-unknown --profile wasm, and serve the workspace root.`;
  throw e;
}

function classify() {
  const pixels = toDigit();
  if (!pixels) return;
  show(pixels);
  const { memory } = exports;
  // Views of memory.buffer after each call: the first classification grows the memory.
  new Uint8Array(memory.buffer, exports.input_ptr(), PIXELS).set(pixels);
  const digit = exports.classify();
  const probabilities = Array.from(new Float32Array(memory.buffer, exports.probabilities_ptr(), CLASSES));
  showResult(digit, probabilities);
}

// A test digit, drawn on the pad ten times larger, then classified like a drawing: a check
// of the whole path from canvas to network.
let digits;
async function loadTestDigit(index) {
  digits ??= new Uint8Array(await (await fetch(digitsUrl)).arrayBuffer());
  const pixels = digits.subarray(index * PIXELS, (index + 1) * PIXELS);
  const label = digits[100 * PIXELS + index];
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const image = new ImageData(28, 28);
  for (let p = 0; p < PIXELS; p++) image.data.set([pixels[p], pixels[p], pixels[p], 255], p * 4);
  small.getContext('2d').putImageData(image, 0, 0);
  clear();
  padContext.imageSmoothingEnabled = true;
  padContext.drawImage(small, 0, 0, pad.width, pad.height);
  classify();
  status.textContent = `Test digit ${index}, labelled ${label}.`;
  document.getElementById('index').value = index;
  result.dataset.label = label;
}

let drawing = false;
let last = null;
pad.addEventListener('pointerdown', (event) => {
  drawing = true;
  last = [event.offsetX, event.offsetY];
  pad.setPointerCapture(event.pointerId);
  padContext.fillStyle = '#fff';
  padContext.beginPath();
  padContext.arc(last[0], last[1], 11, 0, 2 * Math.PI);
  padContext.fill();
});
pad.addEventListener('pointermove', (event) => {
  if (!drawing) return;
  padContext.strokeStyle = '#fff';
  padContext.lineWidth = 22;
  padContext.lineCap = 'round';
  padContext.beginPath();
  padContext.moveTo(...last);
  last = [event.offsetX, event.offsetY];
  padContext.lineTo(...last);
  padContext.stroke();
});
const endStroke = () => {
  if (!drawing) return;
  drawing = false;
  classify();
};
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);
document.getElementById('clear').addEventListener('click', clear);
document.getElementById('load').addEventListener('click', () => {
  const index = Number(document.getElementById('index').value);
  if (Number.isInteger(index) && index >= 0 && index < 100) loadTestDigit(index);
});

clear();
const start = params.get('digit');
if (start !== null) await loadTestDigit(Number(start));
