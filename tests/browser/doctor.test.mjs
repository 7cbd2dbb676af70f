// `wssgate doctor` against the real browser: every broken setup of tests/integ/test_doctor.py is
// built again, Debian's Chromium opens the WebSocket from a page, and the console line it prints
// must be exactly the `browser_error` doctor quotes. Chromium trusts wssgate's local CA only
// because `wssgate cert --install` put it into the NSS database of the HOME it runs with; the
// same install makes Chromium accept `wssgate cert` certificates for a name, an IP and a wildcard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Work, REPO, WSSGATE_BIN, CHROMIUM, freePort } from './lib.mjs';

const NGINX = '/usr/sbin/nginx';

// A listening server in this process (closed at the end); handler(socket, requestBytes).
async function rawServer(w, handler) {
  const sockets = new Set();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      if (buf === null) return;
      buf = Buffer.concat([buf, d]);
      if (buf.includes('\r\n\r\n')) { const req = buf; buf = null; handler(s, req); }
    });
  });
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  w.cleanups.push(() => new Promise((res) => { for (const s of sockets) s.destroy(); srv.close(res); }));
  return srv.address().port;
}

// The environment of every wssgate command here: one state dir (the local CA), the browser's
// HOME (its NSS database) and a trust dir standing in for the system store.
function envOf(w) {
  return { ...process.env, WSSGATE_HOME: w.path('home'), HOME: w.path('user'),
    WSSGATE_TRUST_DIR: w.path('trust'),
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=1',
    UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1' };
}

function wssgate(w, args) {
  const r = spawnSync(WSSGATE_BIN, args.map(String), { env: envOf(w), cwd: w.dir, encoding: 'utf8',
    timeout: 60000 });
  for (const m of ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer']) {
    assert.ok(!r.stderr.includes(m), `wssgate ${args.join(' ')}: ${r.stderr}`);
  }
  return r;
}

// Asynchronous: the raw servers of this process must go on answering while doctor runs.
async function doctor(w, url, ...args) {
  const r = await new Promise((res) => {
    execFile(WSSGATE_BIN, ['doctor', url, '--json', ...args.map(String)],
      { env: envOf(w), cwd: w.dir, encoding: 'utf8', timeout: 60000 },
      (err, stdout, stderr) => res({ status: err ? err.code : 0, stdout, stderr }));
  });
  for (const m of ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer']) {
    assert.ok(!r.stderr.includes(m), `doctor ${url}: ${r.stderr}`);
  }
  assert.ok(r.status === 0 || r.status === 1, `doctor ${url}: status ${r.status}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

// `wssgate cert NAMES... --dir w/sub` → [cert, key]
function cert(w, sub, ...names) {
  mkdirSync(w.path(sub), { recursive: true });
  const r = wssgate(w, ['cert', '--dir', w.path(sub), ...names]);
  assert.equal(r.status, 0, r.stderr);
  const file = r.stdout.match(/^certificate: (\S+)/m)[1];
  return [file, file.replace(/\.pem$/, '-key.pem')];
}

function openssl(w, ...args) {
  execFileSync('openssl', args, { cwd: w.dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A leaf signed by the local CA the way an openssl recipe does it: CN-only, or expired.
function opensslLeaf(w, name, { san, days }) {
  const home = w.path('home');
  openssl(w, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout',
    `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost');
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', join(home, 'ca.pem'), '-CAkey',
    join(home, 'ca-key.pem'), '-CAcreateserial', '-days', String(days), '-out', `${name}-leaf.pem`];
  if (san) {
    writeFileSync(w.path(`${name}.ext`), 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
    args.push('-extfile', `${name}.ext`);
  }
  openssl(w, ...args);
  writeFileSync(w.path(`${name}.pem`), readFileSync(w.path(`${name}-leaf.pem`), 'utf8')
    + readFileSync(join(home, 'ca.pem'), 'utf8'));
  return [w.path(`${name}.pem`), w.path(`${name}.key`)];
}

// `wssgate ARGS` as a gateway sharing the test's state dir; waits for its port.
let gwCount = 0;
async function gateway(w, args, port, host = 'localhost') {
  const p = w.spawn(`wssgate${++gwCount}`, WSSGATE_BIN, [...args, '--workers', '1'],
    { env: envOf(w), checked: true });
  await w.waitPorts(p, host === 'localhost' ? 'localhost' : '127.0.0.1', [port]);
  return p;
}

async function nginx(w, servers) {
  const d = w.path('nginx');
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(d, t), { recursive: true });
  const conf = join(d, 'nginx.conf');
  writeFileSync(conf, `pid ${d}/nginx.pid;
error_log ${d}/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log ${d}/access.log;
  client_body_temp_path ${d}/client_body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
${servers.map(([port, body]) => `  server { listen 127.0.0.1:${port}; server_name localhost;\n${body}\n  }`).join('\n')}
}
`);
  const p = w.spawn('nginx', NGINX, ['-e', join(d, 'error.log'), '-c', conf, '-g', 'daemon off; master_process off;']);
  await w.waitPorts(p, '127.0.0.1', servers.map(([port]) => port));
  return p;
}

// Opens new WebSocket(url) in page; returns { opened, echoed, closeCode, threw, console: [...] }.
async function tryWebSocket(page, consoleLines, url, { closeAfterMs = 4000 } = {}) {
  consoleLines.length = 0;
  const res = await page.evaluate(async ([u, closeAfter]) => {
    let ws;
    try {
      ws = new WebSocket(u);
    } catch (e) {
      return { threw: String(e) };
    }
    return new Promise((resolve) => {
      const r = { opened: false, echoed: false };
      const done = () => resolve(r);
      ws.onopen = () => { r.opened = true; ws.send('hello from chromium'); };
      ws.onmessage = (e) => { r.echoed = e.data === 'hello from chromium'; ws.close(1000); };
      ws.onclose = (e) => { r.closeCode = e.code; done(); };
      setTimeout(() => { if (ws.readyState <= 1) ws.close(); setTimeout(done, 300); }, closeAfter);
    });
  }, [url, closeAfterMs]);
  await new Promise((r) => setTimeout(r, 200));
  return { ...res, console: [...consoleLines] };
}

test('doctor: Chromium prints exactly the browser_error doctor quotes, for every setup',
  { timeout: 300000 }, () => Work.run('doctor', async (w) => {
    if (!existsSync(NGINX)) throw new Error('nginx is not installed: scripts/install-deps installs nginx-light');
    mkdirSync(w.path('home'), { recursive: true });
    mkdirSync(w.path('user'), { recursive: true });
    // The local CA, trusted by this HOME's NSS database (what Chromium reads) through --install.
    const inst = wssgate(w, ['cert', '--install']);
    assert.equal(inst.status, 0, inst.stdout + inst.stderr);
    assert.ok(existsSync(w.path('user', '.pki', 'nssdb', 'cert9.db')));
    assert.equal(readFileSync(w.path('trust', 'wssgate-local-ca.crt'), 'utf8'),
      readFileSync(w.path('home', 'ca.pem'), 'utf8'));

    // backends
    const [wsPort, httpPort] = [await freePort(), await freePort()];
    const wsb = w.spawn('ws_echo', process.execPath, [join(REPO, 'tests/backends/ws_echo.mjs'), '--port', wsPort]);
    const hb = w.spawn('http_backend', '/usr/bin/python3', [join(REPO, 'tests/backends/http_backend.py'),
      '--port', httpPort]);
    await w.waitPorts(wsb, '127.0.0.1', [wsPort]);
    await w.waitPorts(hb, '127.0.0.1', [httpPort]);
    // python-websockets answers a request without the upgrade headers with 426 (npm ws serves a page)
    const pyWsPort = await freePort();
    const pyws = w.spawn('ws_echo_py', '/usr/bin/python3', [join(REPO, 'tests/backends/ws_echo.py'), '--port', pyWsPort]);
    await w.waitPorts(pyws, '127.0.0.1', [pyWsPort]);
    const pageSrv = http.createServer((req, res) => res.end('<!doctype html><title>doctor test page</title>'));
    await new Promise((r) => pageSrv.listen(0, '127.0.0.1', r));
    w.cleanups.push(() => new Promise((r) => pageSrv.close(r)));
    const pageUrl = `http://localhost:${pageSrv.address().port}/`;

    // gateways
    const P = {};
    for (const k of ['demo', 'demoHttp', 'demoBackend', 'path', 'http', 'down', 'plain', 'other', 'cn',
      'old', 'self', 'app', 'name', 'ip', 'wild', 'nginxRedirect', 'nginxPlain']) P[k] = await freePort();
    await gateway(w, ['demo', '--https-port', P.demo, '--http-port', P.demoHttp, '--backend-port', P.demoBackend], P.demo);
    await gateway(w, ['proxy', '--from', `https://localhost:${P.path}/websocket/`, '--to', `ws://127.0.0.1:${wsPort}/`], P.path);
    await gateway(w, ['proxy', '--from', `https://localhost:${P.http}`, '--to', `http://127.0.0.1:${httpPort}`,
      '--read-timeout', '1s'], P.http);
    await gateway(w, ['proxy', '--from', `https://localhost:${P.down}`, '--to', `ws://127.0.0.1:${await freePort()}`], P.down);
    await gateway(w, ['proxy', '--from', `http://localhost:${P.plain}`, '--to', `ws://127.0.0.1:${wsPort}`], P.plain);
    const withCert = ([c, k], port, from = `https://localhost:${port}`, extra = []) =>
      gateway(w, ['proxy', '--from', from, '--to', `http://127.0.0.1:${wsPort}`, '--cert', c, '--key', k, ...extra], port,
        from.includes('localhost') ? 'localhost' : '127.0.0.1');
    await withCert(cert(w, 'other', 'other.test'), P.other);
    await withCert(opensslLeaf(w, 'cnonly', { san: false, days: 30 }), P.cn);
    await withCert(opensslLeaf(w, 'expired', { san: true, days: -1 }), P.old);
    await withCert(cert(w, 'self', '--self-signed', 'localhost'), P.self);
    await withCert(cert(w, 'name', 'localhost'), P.name);
    await withCert(cert(w, 'ip', '127.0.0.1'), P.ip, `https://127.0.0.1:${P.ip}`);
    await withCert(cert(w, 'wild', '*.wild.test'), P.wild, `https://chat.wild.test:${P.wild}`, ['--listen', `127.0.0.1:${P.wild}`]);
    // the https page of the mixed-content case, on a real-looking name
    await gateway(w, ['proxy', '--from', `https://app.test:${P.app}`, '--to', `http://127.0.0.1:${wsPort}`,
      '--listen', `127.0.0.1:${P.app}`], P.app, '127.0.0.1');
    const upgrade = 'proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";';
    await nginx(w, [
      [P.nginxRedirect, `    location /websocket/ { proxy_pass http://127.0.0.1:${wsPort}/; ${upgrade} }`],
      [P.nginxPlain, `    location / { proxy_pass http://127.0.0.1:${pyWsPort}; }`],
    ]);
    // raw servers
    const noUpgrade = await rawServer(w, (s) => s.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n'));
    const closer = await rawServer(w, (s) => s.destroy());
    const silent = await rawServer(w, () => {});

    // the browser, with the HOME whose NSS database --install filled
    const ctx = await chromium.launchPersistentContext(w.path('user', 'profile'), {
      executablePath: CHROMIUM, headless: true, timeout: 60000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--host-resolver-rules=MAP *.test 127.0.0.1'],
      env: { ...process.env, HOME: w.path('user') },
    });
    w.cleanups.push(() => ctx.close());
    const page = await ctx.newPage();
    const lines = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') lines.push(m.text()); });
    await page.goto(pageUrl);

    const cases = [
      { code: null, url: `wss://localhost:${P.demo}/websocket/` },
      { code: null, url: `ws://localhost:${wsPort}/` },
      { code: 'unsafe-port', url: 'wss://localhost:6000/' },
      { code: 'unsafe-port', url: 'ws://127.0.0.1:10080/' },
      { code: 'name-not-resolved', url: 'wss://wssgate-doctor.invalid/' },
      { code: 'connection-refused', url: `wss://localhost:${await freePort()}/` },
      { code: 'not-tls', url: `wss://localhost:${P.plain}/` },
      { code: 'cert-name-mismatch', url: `wss://localhost:${P.other}/` },
      { code: 'cert-name-mismatch', url: `wss://localhost:${P.cn}/` },
      { code: 'cert-expired', url: `wss://localhost:${P.old}/` },
      { code: 'cert-untrusted', url: `wss://localhost:${P.self}/` },
      { code: 'not-websocket', url: `wss://localhost:${P.demo}/` },
      { code: 'not-found', url: `wss://localhost:${P.path}/websockets/` },
      { code: 'redirect', url: `ws://localhost:${P.nginxRedirect}/websocket` },
      { code: 'upgrade-not-forwarded', url: `ws://localhost:${P.nginxPlain}/` },
      { code: 'forbidden', url: `wss://localhost:${P.http}/status/403` },
      { code: 'backend-down', url: `wss://localhost:${P.down}/` },
      { code: 'backend-timeout', url: `wss://localhost:${P.http}/slow?s=4` },
      { code: 'bad-accept', url: `ws://127.0.0.1:${httpPort}/raw101-bad-accept` },
      { code: 'no-upgrade-header', url: `ws://127.0.0.1:${noUpgrade}/` },
      { code: 'closed-before-response', url: `ws://127.0.0.1:${closer}/x` },
      { code: 'no-response', url: `ws://127.0.0.1:${silent}/`, args: ['--timeout', '1s'], closeAfterMs: 1500 },
      { code: 'no-echo', url: `ws://127.0.0.1:${httpPort}/raw101`, args: ['--timeout', '1s'], closeAfterMs: 1500 },
    ];
    const failures = [];
    for (const c of cases) {
      const d = await doctor(w, c.url, ...(c.args || []));
      const b = await tryWebSocket(page, lines, c.url, { closeAfterMs: c.closeAfterMs });
      const wsLines = b.console.filter((l) => l.startsWith('WebSocket') || l.startsWith('Mixed Content'));
      const got = { code: d.problem, browser: wsLines.join('\n') };
      const want = { code: c.code, browser: c.code === null ? '' : d.browser_error };
      if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ url: c.url, got, want, doctor: d });
      if (c.code === null && !(b.opened && b.echoed)) failures.push({ url: c.url, note: 'browser: no echo', b });
      if (c.code === 'no-echo' && !(b.opened && !b.echoed)) failures.push({ url: c.url, note: 'browser: opened, no message', b });
    }
    assert.deepEqual(failures, []);

    // mixed content: an https page (a real-looking name) opening ws:// to another name
    await page.goto(`https://app.test:${P.app}/`);
    const mixedUrl = `ws://chat.test:${wsPort}/`;
    const d = await doctor(w, mixedUrl, '--page', `https://app.test:${P.app}/`);
    assert.equal(d.problem, 'mixed-content');
    const b = await tryWebSocket(page, lines, mixedUrl);
    assert.deepEqual(b.console.filter((l) => l.startsWith('Mixed Content')), [d.browser_error]);
    assert.match(b.threw, /SecurityError: Failed to construct 'WebSocket': An insecure WebSocket connection may not be initiated from a page loaded over HTTPS\./);
    assert.ok(d.cause.includes('An insecure WebSocket connection may not be initiated'));
    // ...while ws://localhost from the same https page is let through, as doctor warns
    const dl = await doctor(w, `ws://localhost:${wsPort}/`, '--page', `https://app.test:${P.app}/`);
    assert.equal(dl.ok, true);
    assert.equal(dl.steps.find((s) => s.step === 'page').status, 'warn');
    const bl = await tryWebSocket(page, lines, `ws://localhost:${wsPort}/`);
    assert.deepEqual({ opened: bl.opened, echoed: bl.echoed }, { opened: true, echoed: true });

    // `wssgate cert` certificates for a name, an IP and a wildcard: Chromium accepts each (the CA
    // came through --install), the page loads over https and its wss:// echoes.
    for (const origin of [`https://localhost:${P.name}`, `https://127.0.0.1:${P.ip}`, `https://chat.wild.test:${P.wild}`]) {
      const resp = await page.goto(`${origin}/`);
      assert.equal(resp.status(), 200, origin);
      const r = await tryWebSocket(page, lines, `${origin.replace('https', 'wss')}/`);
      assert.deepEqual({ origin, opened: r.opened, echoed: r.echoed, console: r.console },
        { origin, opened: true, echoed: true, console: [] });
      if (!origin.includes('.test')) { // doctor resolves names itself: *.test exists only in Chromium
        const dd = await doctor(w, `${origin.replace('https', 'wss')}/`);
        assert.equal(dd.ok, true, JSON.stringify(dd));
      }
    }

    // the restricted ports doctor knows are the ones Chromium refuses (a sample, both ways)
    await page.goto(pageUrl);
    for (const port of [1, 25, 6000, 6665, 6669, 10080, 4190, 6679, 6670]) {
      const url = `ws://127.0.0.1:${port}/`;
      const r = await tryWebSocket(page, lines, url, { closeAfterMs: 1000 });
      const chromiumSaysUnsafe = r.console.some((l) => l.endsWith('net::ERR_UNSAFE_PORT'));
      const doctorSaysUnsafe = (await doctor(w, url, '--timeout', '1s')).problem === 'unsafe-port';
      assert.equal(doctorSaysUnsafe, chromiumSaysUnsafe, `port ${port}`);
    }
  }));
