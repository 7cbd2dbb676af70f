// Self-test of the browser harness, independent of wssgate: Chromium trusts a CA made here
// through the NSS database in its HOME (and only through it: without it the page is refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Work, REPO, freePort } from './lib.mjs';

function makeCa(w) {
  const o = (...a) => execFileSync('openssl', a, { cwd: w.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '2', '-subj', '/CN=harness test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key',
    '-out', 'leaf.csr', '-subj', '/CN=localhost');
  writeFileSync(w.path('ext'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  o('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'leaf.pem', '-days', '2', '-extfile', 'ext');
  return w.path('ca.pem');
}

test('harness: Chromium trusts a local CA through the NSS db in HOME', { timeout: 90000 }, () =>
  Work.run('harness', async (w) => {
    const ca = makeCa(w);
    const port = await freePort();
    const srv = w.spawn('https_backend', '/usr/bin/python3', [join(REPO, 'tests/backends/http_backend.py'),
      '--port', port, '--cert', w.path('leaf.pem'), '--key', w.path('leaf.key')]);
    await w.waitPorts(srv, '127.0.0.1', [port]);
    const url = `https://localhost:${port}/echo-headers`;

    const trusted = await w.browser(w.nssHome('home-trusting', ca));
    const page = await trusted.newPage();
    const resp = await page.goto(url);
    assert.equal(resp.status(), 200);
    const sec = await resp.securityDetails();
    assert.equal(sec.subjectName, 'localhost');
    assert.equal(sec.issuer, 'harness test CA');
    const info = JSON.parse(await page.locator('body').innerText());
    assert.equal(info.target, '/echo-headers');
    assert.match(info.headers.find(([n]) => n.toLowerCase() === 'user-agent')[1], /Chrome/);

    // control: the same browser setup without the CA in its NSS db refuses the certificate
    const untrusted = await w.browser(w.nssHome('home-empty', null));
    const page2 = await untrusted.newPage();
    await assert.rejects(page2.goto(url), /ERR_CERT_AUTHORITY_INVALID/);
  }));
