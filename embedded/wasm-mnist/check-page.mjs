// Checks index.html in headless Chromium, the way a person would use it: serves the
// workspace root, opens the page, classifies the 100 test digits through the canvas
// (?digit=N) and draws a 1, a 7 and a 0 with mouse events. Exits non-zero below 90 of the
// 100 or on a drawn digit taken for another. Not part of tools/test-wasm-mnist.sh, since
// it needs a browser (Debian: `apt-get install chromium`); run it after changing the page:
//
//   cargo build -p wasm-mnist --lib --target wasm32-unknown-unknown --profile wasm
//   node embedded/wasm-mnist/check-page.mjs [--browser PATH]
//
// Chromium is driven over --remote-debugging-pipe (the DevTools protocol as NUL-separated
// JSON on file descriptors 3 and 4), which needs no WebSocket client and no package.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFile, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_CORRECT = 90;
const browser = process.argv[2] === '--browser' ? process.argv[3] : 'chromium';
const root = fileURLToPath(new URL('../../', import.meta.url));

// The workspace root over HTTP on a free port of the loopback interface.
const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer((request, response) => {
  const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
  const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
  if (!file.startsWith(root)) return response.writeHead(403).end();
  readFile(file, (error, data) => {
    if (error) return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    response.end(data);
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const page = `http://127.0.0.1:${server.address().port}/embedded/wasm-mnist/index.html`;

const profile = mkdtempSync(join(tmpdir(), 'check-page-'));
const chromium = spawn(
  browser,
  ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', `--user-data-dir=${profile}`],
  { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
);
chromium.on('error', (e) => {
  console.error(`error: cannot start ${browser} (${e.message}); install chromium or pass --browser PATH`);
  process.exit(2);
});

let lastId = 0;
const pending = new Map();
let received = '';
chromium.stdio[4].on('data', (chunk) => {
  received += chunk;
  for (let end; (end = received.indexOf('\0')) >= 0; received = received.slice(end + 1)) {
    const message = JSON.parse(received.slice(0, end));
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  }
});
function send(method, params = {}, sessionId = undefined) {
  return new Promise((resolve) => {
    const id = ++lastId;
    pending.set(id, resolve);
    chromium.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  });
}

const { result: target } = await send('Target.createTarget', { url: 'about:blank' });
const { result: session } = await send('Target.attachToTarget', { targetId: target.targetId, flatten: true });
const tab = (method, params) => send(method, params, session.sessionId);
async function evaluate(expression) {
  const { result } = await tab('Runtime.evaluate', { expression, returnByValue: true });
  return result?.result?.value;
}
// The page works asynchronously (fetching the module, the digits): poll for its state.
async function waitFor(expression, ms = 10000) {
  for (const start = Date.now(); Date.now() - start < ms; ) {
    const value = await evaluate(expression);
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}
const result = () =>
  evaluate(`(r => ({ text: r.textContent, digit: r.dataset.digit, label: r.dataset.label }))(
    document.getElementById('result'))`);

let failures = 0;

let correct = 0;
for (let index = 0; index < 100; index++) {
  await tab('Page.navigate', { url: `${page}?digit=${index}` });
  const shown = `document.getElementById('status').textContent.startsWith('Test digit ${index},')`;
  if (!(await waitFor(shown))) {
    console.error(`error: test digit ${index} was not classified: is the module built?`);
    failures++;
    break;
  }
  const { text, digit, label } = await result();
  if (digit === label) correct++;
  if (index < 3 || digit !== label) console.log(`test digit ${index} (label ${label}): ${text}`);
}
console.log(`${correct} of 100 test digits right through the canvas`);
if (correct < MIN_CORRECT) failures++;

// Strokes in the 280×280 pad's coordinates, each drawn as ten mouse moves per segment.
async function draw(strokes) {
  const [left, top] = await evaluate(
    `(r => [r.left, r.top])(document.getElementById('pad').getBoundingClientRect())`,
  );
  const mouse = (type, [x, y], buttons) =>
    tab('Input.dispatchMouseEvent', { type, x: left + x, y: top + y, button: 'left', buttons, clickCount: 1 });
  for (const points of strokes) {
    await mouse('mousePressed', points[0], 1);
    for (let i = 1; i < points.length; i++) {
      const [[xa, ya], [xb, yb]] = [points[i - 1], points[i]];
      for (let t = 1; t <= 10; t++) {
        await mouse('mouseMoved', [xa + ((xb - xa) * t) / 10, ya + ((yb - ya) * t) / 10], 1);
      }
    }
    await mouse('mouseReleased', points.at(-1), 0);
  }
}
const drawings = [
  [1, [[[140, 40], [138, 240]]]],
  [7, [[[70, 50], [210, 50], [120, 240]]]],
  [0, [[[140, 40], [80, 80], [70, 160], [100, 230], [160, 240], [205, 180], [210, 100], [180, 50], [140, 40]]]],
];
for (const [want, strokes] of drawings) {
  await tab('Page.navigate', { url: page });
  await waitFor(`document.getElementById('status').textContent.startsWith('Module')`);
  await draw(strokes);
  await waitFor(`document.getElementById('result').dataset.digit !== undefined`, 3000);
  const { text, digit } = await result();
  console.log(`drawn ${want}: ${text || 'not classified'}`);
  if (Number(digit) !== want) failures++;
}

// Closed through the protocol, so that its helper processes stop too, before its profile
// goes (retried: the last of them may still be writing to it for a moment).
const exited = new Promise((resolve) => chromium.once('exit', resolve));
send('Browser.close');
await exited;
server.close();
rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
if (failures > 0) {
  console.error('error: the page does not classify as it should');
  process.exit(1);
}
