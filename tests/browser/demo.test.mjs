// wssgate in a real browser: Debian's Chromium, trusting the gateway's local CA
// ($WSSGATE_HOME/ca.pem) through an NSS database in a temporary HOME, never by ignoring errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Work, REPO, freePort } from './lib.mjs';

test('demo: chat page over https, socket connects, a message comes back', { timeout: 120000 }, () =>
  Work.run('demo', async (w) => {
    const [https, http, backend] = [await freePort(), await freePort(), await freePort()];
    const gw = await w.gateway(['demo', '--host', 'localhost', '--https-port', https, '--http-port', http,
      '--backend-port', backend, '--workers', '1'], [https, http]);
    const ctx = await w.browser(w.nssHome('browser-home', gw.ca));
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));

    const resp = await page.goto(`https://localhost:${https}/`);
    assert.equal(resp.status(), 200);
    const sec = await resp.securityDetails();
    assert.equal(sec.subjectName, 'localhost');
    assert.equal(sec.protocol, 'TLS 1.3');

    await page.waitForFunction(() => document.querySelector('#status')?.textContent.trim() === 'connected',
      null, { timeout: 15000 });
    const text = `hello from chromium ${Date.now()}`;
    await page.fill('#msg', text);
    await page.click('#send');
    const item = page.locator('#log li', { hasText: text });
    await item.first().waitFor({ timeout: 10000 });
    assert.equal(await item.count(), 1);
    assert.equal((await item.first().textContent()).includes(text), true);
    assert.deepEqual(errors, []);

    // plain http on the other port sends the browser to https
    const r2 = await page.goto(`http://localhost:${http}/`);
    assert.equal(r2.url(), `https://localhost:${https}/`);
    assert.equal(r2.status(), 200);
  }));

test('proxy: wss from the page through the gateway to a node ws echo backend', { timeout: 120000 }, () =>
  Work.run('proxy', async (w) => {
    const [port, bport] = [await freePort(), await freePort()];
    const be = w.spawn('ws_echo_node', process.execPath, [join(REPO, 'tests/backends/ws_echo.mjs'), '--port', bport]);
    await w.waitPorts(be, '127.0.0.1', [bport]);
    const gw = await w.gateway(['proxy', '--from', `https://localhost:${port}`, '--to', `ws://127.0.0.1:${bport}`],
      [port]);
    const ctx = await w.browser(w.nssHome('browser-home', gw.ca));
    const page = await ctx.newPage();
    // The page comes straight from the backend (plain http on loopback): Chromium's local network
    // access checks would block an about:blank page from opening a socket to localhost.
    const pageResp = await page.goto(`http://localhost:${bport}/`);
    assert.equal(pageResp.status(), 200);
    const res = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      const queue = [];
      const waiters = [];
      ws.onmessage = (e) => (waiters.length ? waiters.shift()(e.data) : queue.push(e.data));
      const next = () => new Promise((res, rej) => {
        if (queue.length) return res(queue.shift());
        waiters.push(res);
        setTimeout(() => rej(new Error('no message within 20 s')), 20000);
      });
      // A certificate error shows as a socket that never opens (error + close 1006).
      const opened = await new Promise((res) => {
        ws.onopen = () => res(true);
        ws.onclose = () => res(false);
      });
      if (!opened) return { opened };
      ws.send('hello through wssgate');
      const text = await next();
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 255;
      ws.send(big);
      const got = new Uint8Array(await next());
      let same = got.length === big.length;
      for (let i = 0; same && i < big.length; i++) same = got[i] === big[i];
      const closed = new Promise((res) => { ws.onclose = (e) => res(e.code); });
      ws.close(1000);
      return { opened, text, binLen: got.length, same, closeCode: await closed };
    }, `wss://localhost:${port}/`);
    assert.deepEqual(res, { opened: true, text: 'hello through wssgate', binLen: 1 << 20, same: true,
      closeCode: 1000 });
  }));
