// Helpers of wssgate's browser tests: temp dirs, processes on free ports (stopped by PID),
// an NSS database that trusts a CA, and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WSSGATE_BIN = process.env.WSSGATE_BIN || join(REPO, 'build', 'wssgate');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

const canConnect = (host, port) => new Promise((res) => {
  const s = net.connect({ host, port });
  s.setTimeout(500);
  s.once('connect', () => { s.destroy(); res(true); });
  s.once('error', () => res(false));
  s.once('timeout', () => { s.destroy(); res(false); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A test's work dir: removed afterwards, kept when the test failed and WSSGATE_KEEP_TMP=1.
// Every process started through it is stopped (by its PID) at the end.
export class Work {
  constructor(name) {
    this.dir = mkdtempSync(join(tmpdir(), `wssgate-browser-${name}-`));
    this.procs = [];
    this.cleanups = [];
  }

  path(...p) { return join(this.dir, ...p); }

  spawn(name, cmd, args, { env, checked = false } = {}) {
    const out = openSync(this.path(`${name}.stdout`), 'w');
    const err = openSync(this.path(`${name}.stderr`), 'w');
    const child = spawn(cmd, args.map(String), { env: env || process.env, cwd: this.dir,
      stdio: ['ignore', out, err] });
    closeSync(out); closeSync(err);
    const p = { name, child, checked, cmd: [cmd, ...args].join(' '), exit: null };
    p.exited = new Promise((res) => child.once('exit', (code, signal) => { p.exit = { code, signal }; res(p.exit); }));
    p.stderr = () => readFileSync(this.path(`${name}.stderr`), 'utf8');
    p.stdout = () => readFileSync(this.path(`${name}.stdout`), 'utf8');
    this.procs.push(p);
    return p;
  }

  async waitPorts(p, host, ports, timeoutMs = 10000) {
    const end = Date.now() + timeoutMs;
    for (const port of ports) {
      while (!(await canConnect(host, port))) {
        if (p.exit) throw new Error(`${p.name} exited (${JSON.stringify(p.exit)}) before ${host}:${port} `
          + `accepted connections\n${p.cmd}\n--- stderr ---\n${p.stderr().slice(-6000)}`);
        if (Date.now() > end) throw new Error(`${p.name}: ${host}:${port} not accepting within ${timeoutMs} ms`
          + `\n--- stderr ---\n${p.stderr().slice(-6000)}`);
        await sleep(50);
      }
    }
  }

  // SIGTERM to the process's own PID, up to 15 s, then SIGKILL. Returns problems found ([] if none).
  async stop(p) {
    if (!p.exit) {
      p.child.kill('SIGTERM');
      const t = setTimeout(() => { if (!p.exit) { p.killed = true; p.child.kill('SIGKILL'); } }, 15000);
      await p.exited;
      clearTimeout(t);
    }
    if (!p.checked) return [];
    const problems = [];
    if (p.killed) problems.push(`${p.name} did not exit within 15 s of SIGTERM`);
    else if (p.exit.code !== 0) problems.push(`${p.name} exit status ${JSON.stringify(p.exit)}`);
    const text = p.stderr() + p.stdout();
    for (const m of SANITIZER_MARKS) {
      const i = text.indexOf(m);
      if (i >= 0) problems.push(`${p.name} output has "${m}":\n${text.slice(Math.max(0, i - 200), i + 3000)}`);
    }
    return problems;
  }

  // Runs fn(work); then closes browsers, stops processes, checks the gateway's exit, cleans up.
  static async run(name, fn) {
    const w = new Work(name);
    let error = null;
    try {
      await fn(w);
    } catch (e) {
      error = e;
    }
    for (const c of w.cleanups.reverse()) await c().catch(() => {});
    const problems = [];
    for (const p of w.procs.reverse()) problems.push(...await w.stop(p));
    if ((error || problems.length) && process.env.WSSGATE_KEEP_TMP === '1') console.error(`kept temp dir: ${w.dir}`);
    else rmSync(w.dir, { recursive: true, force: true });
    if (error) {
      if (problems.length) error.message += `\n(and at stop: ${problems.join('\n')})`;
      throw error;
    }
    if (problems.length) throw new Error(problems.join('\n'));
  }

  // `wssgate ARGS...` with WSSGATE_HOME in the work dir; waits until its ports accept TCP.
  async gateway(args, ports, host = 'localhost') {
    if (!existsSync(WSSGATE_BIN)) throw new Error(`wssgate binary not found at ${WSSGATE_BIN} (set WSSGATE_BIN)`);
    const home = this.path('home');
    mkdirSync(home, { recursive: true });
    const env = { ...process.env, WSSGATE_HOME: home,
      ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1' };
    const p = this.spawn('wssgate', WSSGATE_BIN, args, { env, checked: true });
    await this.waitPorts(p, host, ports);
    p.home = home;
    p.ca = join(home, 'ca.pem');
    return p;
  }

  // A HOME whose NSS database (what Chromium on Linux reads) trusts caPem as a CA for servers.
  nssHome(name, caPem) {
    const home = this.path(name);
    const db = join(home, '.pki', 'nssdb');
    mkdirSync(db, { recursive: true });
    execFileSync('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
    if (caPem) execFileSync('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'wssgate-ca', '-i', caPem]);
    return home;
  }

  // Debian's Chromium, headless, with a fresh profile and HOME (so: that NSS database).
  async browser(home) {
    const profile = join(home, 'profile');
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      env: { ...process.env, HOME: home },
      timeout: 60000,
    });
    this.cleanups.push(() => ctx.close());
    return ctx;
  }
}
