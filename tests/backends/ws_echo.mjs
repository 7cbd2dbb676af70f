#!/usr/bin/env node
// WebSocket echo backend on npm `ws`, for wssgate's black-box tests.
//   node ws_echo.mjs --port N [--host 127.0.0.1]
// Echoes every message with its type (text stays text, binary stays binary). A plain GET gets a
// small HTML page: a loopback origin from which a browser test may open its wss:// connection
// (Chromium's local network access checks block loopback from about:blank).
import http from 'node:http';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port', '0'));

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>ws_echo.mjs</title><p>ws_echo.mjs test page</p>\n');
});
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(port, host, () => console.log(`ws_echo.mjs listening on ${host}:${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
