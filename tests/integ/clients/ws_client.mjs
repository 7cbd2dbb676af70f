#!/usr/bin/env node
// WebSocket client on npm `ws` for wssgate's integration tests.
//   node ws_client.mjs URL CA_FILE STEP...
// Steps, run in order on one connection: text:STRING (send, expect the same text back),
// binary:N (send N random bytes, expect them back byte-exact), close:CODE (close with CODE,
// report the code of the peer's close frame). Prints {"steps": [{step, ok, ...}]} as JSON.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const [url, caFile, ...steps] = process.argv.slice(2);
const ws = new WebSocket(url, { ca: readFileSync(caFile), maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: false, handshakeTimeout: 10000 });
const timer = setTimeout(() => { console.error('ws_client: timed out'); process.exit(2); }, 100000);
const results = [];

const next = () => new Promise((resolve, reject) => {
  ws.once('message', (data, isBinary) => resolve({ data, isBinary }));
  ws.once('close', (code) => reject(new Error(`closed (${code}) while waiting for a message`)));
});

ws.on('error', (e) => { console.error('ws_client: ' + e.message); process.exit(1); });
ws.on('open', async () => {
  try {
    for (const step of steps) {
      const [kind, arg] = [step.slice(0, step.indexOf(':')), step.slice(step.indexOf(':') + 1)];
      if (kind === 'text') {
        ws.send(arg);
        const m = await next();
        results.push({ step, ok: !m.isBinary && m.data.toString('utf8') === arg });
      } else if (kind === 'binary') {
        const buf = randomBytes(Number(arg));
        ws.send(buf);
        const m = await next();
        results.push({ step, ok: m.isBinary && Buffer.compare(m.data, buf) === 0 });
      } else if (kind === 'close') {
        const code = await new Promise((resolve) => { ws.once('close', resolve); ws.close(Number(arg)); });
        results.push({ step, ok: code === Number(arg), code });
      } else {
        throw new Error(`unknown step ${step}`);
      }
    }
    console.log(JSON.stringify({ steps: results }));
    clearTimeout(timer);
    ws.terminate();
  } catch (e) {
    console.error('ws_client: ' + e.message + ' after ' + JSON.stringify(results));
    process.exit(1);
  }
});
