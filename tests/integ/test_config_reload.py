"""Reload that drops nothing (issue 3, "Reload that drops nothing").

(a) a reload storm under load: 500 tunnels (the issue's figure; WSSGATE_TUNNELS=N to change it) echo a counter
    sequence continuously while the configuration is reloaded every 100 ms, alternating two
    configurations whose routes, upstreams, certificates, locations and listeners differ: no
    tunnel dropped, no byte lost, new connections follow the new configuration, RSS and open
    descriptors come back to their level (and ASan is clean at exit: the fixture checks);
(b) a bad reload keeps serving and logs FILE:LINE;
(c) `-s reload` and `-s stop` through the pid file;
(d) a listen address removed by a reload stops accepting, an added one starts.

Every loop is bounded in count and time; the whole file stays under a minute on 2 cores with the
ASan build.
"""
import asyncio
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from helpers import (CONF_FIXTURES, PYTHON, Backend, conf_test, free_port, host_cert, is_sanitized_binary,
                     openssl, port_open, render_conf, run, wait_until, ws_key, wssgate_bin)

N_TUNNELS = int(os.environ.get("WSSGATE_TUNNELS", "500"))
STORM_RELOADS = 50
WARMUP_RELOADS = 6
RELOAD_EVERY = 0.100

# Both configurations come from one template: what differs is marked {{...}}.
TEMPLATE = """\
pid {{PID}};
worker_processes 2;
events {
    worker_connections 4096;
}
http {
    access_log {{LOG}};
    upstream grp {
        server 127.0.0.1:{{GRP_PORT}} max_fails=1 fail_timeout=1s;
    }
    server {
        listen 127.0.0.1:{{P1}} ssl;
{{EXTRA_LISTEN}}
        server_name localhost;
        ssl_certificate {{CERT}};
        ssl_certificate_key {{KEY}};
        location /a {
            proxy_pass http://grp;
        }
        location /b {
            proxy_pass http://127.0.0.1:{{B_PORT}};
        }
{{EXTRA_LOCATION}}
    }
}
"""


class Setup:
    """Two tag backends, two certificates for localhost, two configurations and the file the
    gateway reads (conf), into which either is written atomically."""

    def __init__(self, work, n_backends=2):
        self.work = work
        self.dir = work.path
        self.backends = {}
        for tag in ("A", "B")[:n_backends]:
            port = free_port()
            log = self.dir / ("tag_%s.log" % tag)
            b = Backend("tag_backend_%s" % tag, [PYTHON, CONF_FIXTURES / "tag_backend.py", "--port",
                                                  str(port), "--tag", tag], self.dir, port, log)
            work.procs.append(b)
            self.backends[tag] = b
        self.home = self.dir / "home"
        self.cert1, self.key1 = host_cert(self.home, "localhost")
        self.cert2, self.key2 = str(self.dir / "other.pem"), str(self.dir / "other-key.pem")
        st, out = openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
                           "subjectAltName=DNS:localhost", "-keyout", self.key2, "-out", self.cert2])
        assert st == 0, out
        self.p1, self.p2 = free_port(), free_port()
        self.pid = self.dir / "wssgate.pid"
        self.log = self.dir / "access.log"
        self.conf = self.dir / "gw.conf"
        self.gw = None

    def values(self, which, **over):
        a, b = self.backends["A"].port, self.backends.get("B", self.backends["A"]).port
        v = dict(PID=self.pid, LOG=self.log, P1=self.p1)
        if which == "A":
            v.update(GRP_PORT=a, B_PORT=b, EXTRA_LISTEN="", CERT=self.cert1, KEY=self.key1,
                     EXTRA_LOCATION='        location = /only-a {\n            return 200 "only-a";\n'
                                    '        }')
        else:
            v.update(GRP_PORT=b, B_PORT=a, EXTRA_LISTEN="        listen 127.0.0.1:%d;" % self.p2,
                     CERT=self.cert2, KEY=self.key2,
                     EXTRA_LOCATION='        location = /only-b {\n            return 200 "only-b";\n'
                                    '        }')
        v.update(over)
        return v

    def write(self, which, **over):
        render_conf(TEMPLATE, self.conf, **self.values(which, **over))

    def client_ctx(self):
        ctx = ssl.create_default_context(cafile=str(self.home / "ca.pem"))
        ctx.load_verify_locations(self.cert2)
        return ctx

    def cert_der(self, which):
        return ssl.PEM_cert_to_DER_cert(open(self.cert1 if which == "A" else self.cert2).read()
                                        .split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")


def reloads_logged(gw):
    return gw.stderr().count("configuration reloaded (generation ")


def wait_reloads(gw, n, timeout=5.0):
    ok = wait_until(lambda: reloads_logged(gw) >= n, timeout, step=0.01)
    assert ok, "reload %d not logged:\n%s" % (n, gw.stderr()[-3000:])


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def died(gw):
    """The sanitizer's summary (or the end of stderr) of a gateway that is gone."""
    err = gw.stderr()
    i = err.find("ERROR: AddressSanitizer")
    return err[i:i + 3000] if i >= 0 else err[-3000:]


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ---------------------------------------------------------------------------------------------
# raw WebSocket client over asyncio streams (cheap enough for hundreds of tunnels)

def mask_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = os.urandom(4)
    if n:
        k = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")
    return head + key + payload


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    assert not b1 & 0x80, "a masked frame from the server"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await reader.readexactly(n)


async def http_exchange(reader, writer, path, close=False, headers=None):
    """One request on an open connection: (status, body); headers (a dict) gets the response's."""
    writer.write(("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (
        path, "Connection: close\r\n" if close else "")).encode())
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ")[1])
    hdrs = {}
    for ln in head.split("\r\n")[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if headers is not None:
        headers.update(hdrs)
    body = await reader.readexactly(int(hdrs.get("content-length", "0")))
    return status, body


class Tunnel:
    def __init__(self, i, port, tls, path):
        self.i, self.port, self.tls, self.path = i, port, tls, path
        self.backend = None
        self.rounds = 0
        self.error = None
        self.closed_cleanly = False

    async def open(self, ctx):
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", self.port, ssl=ctx if self.tls else None,
            server_hostname="localhost" if self.tls else None), 20)
        self.writer.write(("GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (self.path, ws_key())).encode())
        head = (await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 20)).decode("latin-1")
        assert head.startswith("HTTP/1.1 101 "), head
        for ln in head.split("\r\n"):
            if ln.lower().startswith("x-backend:"):
                self.backend = ln.split(":", 1)[1].strip()

    def payload(self, seq):
        # a counter sequence; lengths vary so that 7- and 16-bit lengths both occur
        return b"%06d:%08d:" % (self.i, seq) + b"x" * ((seq * 37 + self.i) % 300)

    async def echo(self, stop, interval):
        seq = 0
        try:
            while not stop.is_set():
                sent = [self.payload(seq), self.payload(seq + 1)]
                self.writer.write(mask_frame(2, sent[0]) + mask_frame(1, sent[1]))
                await self.writer.drain()
                for k, want in enumerate(sent):
                    op, got = await asyncio.wait_for(read_frame(self.reader), 15)
                    if got != want or op != (2 if k == 0 else 1):
                        self.error = "tunnel %d: sent %r, got %r (op %d)" % (self.i, want[:40], got[:40], op)
                        return
                seq += 2
                self.rounds += 1
                try:
                    await asyncio.wait_for(stop.wait(), random.uniform(0.5, 1.5) * interval)
                except asyncio.TimeoutError:
                    pass
            # a clean close: our close frame comes back, then EOF
            self.writer.write(mask_frame(8, struct.pack("!H", 1000)))
            await self.writer.drain()
            op, got = await asyncio.wait_for(read_frame(self.reader), 15)
            assert op == 8 and got[:2] == struct.pack("!H", 1000), (op, got)
            rest = await asyncio.wait_for(self.reader.read(), 15)
            assert rest == b"", rest
            self.closed_cleanly = True
        except Exception as e:  # noqa: BLE001 (any failure of a tunnel is what the test reports)
            self.error = "tunnel %d (%s %s, %d rounds): %r" % (self.i, "tls" if self.tls else "plain",
                                                                self.path, self.rounds, e)
        finally:
            self.writer.close()


async def probe(setup, which, ctx):
    """New connections after a reload to `which`: (ok, what was seen). A connection is reused
    while the gateway keeps it open (it closes after an error page)."""
    seen = {}
    certs = set()
    conn = []

    async def get(path):
        if not conn:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", setup.p1, ssl=ctx, server_hostname="localhost"), 5)
            der = w.get_extra_info("ssl_object").getpeercert(binary_form=True)
            certs.add("A" if der == setup.cert_der("A") else "B" if der == setup.cert_der("B") else "?")
            conn[:] = [r, w]
        hdrs = {}
        st, body = await asyncio.wait_for(http_exchange(conn[0], conn[1], path, headers=hdrs), 5)
        if hdrs.get("connection", "").lower() == "close":
            conn.pop(1).close()
            conn.clear()
        return st, body
    try:
        try:
            _, body = await get("/a")
            seen["/a"] = body.decode()
            seen["only-a"], _ = await get("/only-a")
            seen["only-b"], _ = await get("/only-b")
        finally:
            if conn:
                conn[1].close()
        seen["cert"] = "".join(sorted(certs))
        try:
            r2, w2 = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", setup.p2), 2)
            try:
                _, body = await asyncio.wait_for(http_exchange(r2, w2, "/b", close=True), 5)
                seen["p2"] = body.decode()
            finally:
                w2.close()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            seen["p2"] = "refused"
    except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
        return False, {"error": repr(e)}
    want = {"cert": which, "only-a": 200 if which == "A" else 404,
            "only-b": 200 if which == "B" else 404,
            "/a": "backend=%s path=/a" % which,
            "p2": "refused" if which == "A" else "backend=A path=/b"}
    return seen == want, seen


async def probe_until(setup, which, ctx, tries=20):
    """The worker that accepts may take the new generation a moment after the log line: bounded
    retries. Returns the number of tries needed."""
    seen = None
    for k in range(tries):
        ok, seen = await probe(setup, which, ctx)
        if ok:
            return k + 1
        await asyncio.sleep(0.02)
    raise AssertionError("new connections do not follow configuration %s: %r%s" % (
        which, seen, "" if setup.gw is None or setup.gw.alive() else "\nthe gateway died:\n" + died(setup.gw)))


def start_reload_gateway(start_gateway, setup, which):
    setup.write(which)
    ports = [setup.p1] + ([setup.p2] if which == "B" else [])
    setup.gw = start_gateway(["-c", str(setup.conf)], "127.0.0.1", ports, home=setup.home)
    return setup.gw


# ---------------------------------------------------------------------------------------------
# (a) the storm

def test_reload_storm_under_load_drops_nothing(work, start_gateway, monkeypatch):
    if is_sanitized_binary():
        # ASan keeps freed memory in quarantine (256 MiB by default), so RSS would track the
        # quarantine filling up, not the gateway; a small one still catches use after free of
        # recently freed generations
        monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:quarantine_size_mb=16")
    setup = Setup(work)
    for which in ("A", "B"):  # both load, and without a warning
        setup.write(which)
        status, err = conf_test(setup.conf)
        assert status == 0 and ": warning: " not in err, err
    gw = start_reload_gateway(start_gateway, setup, "B")
    ctx = setup.client_ctx()
    interval = N_TUNNELS / 800.0  # ~800 round trips a second in all, whatever N
    timeline = {}

    async def go():
        stop = asyncio.Event()
        tunnels = [Tunnel(i, setup.p1 if i % 4 < 2 else setup.p2, i % 4 < 2, "/a" if i % 2 == 0 else "/b")
                   for i in range(N_TUNNELS)]
        sem = asyncio.Semaphore(32)

        async def open_one(t):
            async with sem:
                await t.open(ctx)
        t0 = time.monotonic()
        await asyncio.gather(*(open_one(t) for t in tunnels))
        timeline["open"] = time.monotonic() - t0
        # under B: /a -> upstream grp -> B, /b -> A
        wrong = [(t.i, t.path, t.backend) for t in tunnels if t.backend != ("B" if t.path == "/a" else "A")]
        assert not wrong, wrong[:10]
        echoes = [asyncio.ensure_future(t.echo(stop, interval)) for t in tunnels]
        t_start = time.monotonic()

        async def sample():  # the RSS timeline, for the failure message
            while not stop.is_set() and gw.alive():
                timeline.setdefault("rss", []).append("%.1fs:%dM" % (time.monotonic() - t_start,
                                                                     vm_rss_kib(gw.pid) // 1024))
                await asyncio.sleep(0.5)
        sampler = asyncio.ensure_future(sample())
        tries = []
        reloads = 0

        async def reload_to(which):
            nonlocal reloads
            assert gw.alive(), "the gateway died after %d reloads:\n%s" % (reloads, died(gw))
            setup.write(which)
            os.kill(gw.pid, signal.SIGHUP)
            reloads += 1
            for _ in range(500):  # bounded: 5 s
                if reloads_logged(gw) >= reloads:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("reload %d not logged:\n%s" % (reloads, gw.stderr()[-3000:]))
            tries.append(await probe_until(setup, which, ctx))

        # warm-up round: traffic everywhere, a few reloads, the allocator at its working size
        await asyncio.sleep(1.0)
        for k in range(WARMUP_RELOADS):
            await reload_to("A" if k % 2 == 0 else "B")
        await asyncio.sleep(1.0)
        broken = [t.error for t in tunnels if t.error]
        assert not broken, broken[:5]
        rss0, fds0 = vm_rss_kib(gw.pid), open_fds(gw.pid)
        rounds0 = [t.rounds for t in tunnels]
        # the storm
        t0 = time.monotonic()
        for k in range(STORM_RELOADS):
            tick = time.monotonic()
            await reload_to("A" if k % 2 == 0 else "B")
            await asyncio.sleep(max(0.0, RELOAD_EVERY - (time.monotonic() - tick)))
        timeline["storm"] = time.monotonic() - t0
        rounds1 = [t.rounds for t in tunnels]
        # 2 s of quiet (no reloads; the tunnels go on echoing)
        await asyncio.sleep(2.0)
        rss1, fds1 = vm_rss_kib(gw.pid), open_fds(gw.pid)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*echoes), 60)
        await sampler
        return tunnels, tries, rss0, rss1, fds0, fds1, rounds0, rounds1

    tunnels, tries, rss0, rss1, fds0, fds1, rounds0, rounds1 = run(go(), 150)
    errors = [t.error for t in tunnels if t.error]
    assert not errors, "%d of %d tunnels broke:\n%s" % (len(errors), len(tunnels), "\n".join(errors[:10]))
    assert all(t.closed_cleanly for t in tunnels)
    stalled = [t.i for t, a, b in zip(tunnels, rounds0, rounds1) if b - a < 2]
    assert not stalled, "tunnels that did not echo during the storm: %s" % stalled[:20]
    assert len(tries) == WARMUP_RELOADS + STORM_RELOADS
    err = gw.stderr()
    assert err.count("configuration reloaded (generation ") == WARMUP_RELOADS + STORM_RELOADS
    assert "reload failed" not in err, err[-3000:]
    bad = [ln for ln in err.splitlines() if any(m in ln for m in ("[error]", "[crit]", "[alert]", "[warn]"))]
    assert not bad, "\n".join(bad[:20])
    # each tunnel got its access-log line at close, through the generation it started on
    def tunnel_lines():
        return [ln for ln in setup.log.read_text().splitlines() if '" 101 ' in ln and " tunnel " in ln]
    wait_until(lambda: len(tunnel_lines()) >= len(tunnels), 5)
    assert len(tunnel_lines()) == len(tunnels), tunnel_lines()[-5:]
    # no leak: memory and descriptors come back to their level
    assert rss1 <= rss0 * 1.2 + 8 * 1024, "RSS %d KiB after the storm, %d KiB before; timeline %s" % (
        rss1, rss0, " ".join(timeline["rss"]))
    assert fds1 <= fds0 + 4, "descriptors: %d after the storm, %d before" % (fds1, fds0)
    print("\nreload storm: %d tunnels opened in %.1f s, %d reloads in %.1f s, probe tries max %d, "
          "RSS %d -> %d KiB, fds %d -> %d" % (len(tunnels), timeline["open"], STORM_RELOADS,
                                             timeline["storm"], max(tries), rss0, rss1, fds0, fds1))


# ---------------------------------------------------------------------------------------------
# (b) a bad reload

def test_bad_reload_keeps_serving_and_logs_file_line(work, start_gateway, raw_backend):
    setup = Setup(work, n_backends=1)
    gw = start_reload_gateway(start_gateway, setup, "A")
    ctx = setup.client_ctx()
    held = socket.socket()  # a port another program holds (no SO_REUSEPORT): bind must fail
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    busy = held.getsockname()[1]
    fds_before = open_fds(gw.pid)

    async def go():
        t = Tunnel(0, setup.p1, True, "/a")
        await t.open(ctx)
        stop = asyncio.Event()
        echo = asyncio.ensure_future(t.echo(stop, 0.05))
        bad = [
            # (what to write, the message expected after "reload failed, still serving ...: ")
            (lambda: setup.conf.write_text(setup.conf.read_text().replace(
                "proxy_pass http://grp;", "proxy_pas http://grp;")),
             '%s:18: unknown directive "proxy_pas"; did you mean "proxy_pass"?' % setup.conf),
            (lambda: setup.write("A", CERT="/nonexistent/cert.pem"),
             '%s:15: cannot load certificate "/nonexistent/cert.pem"' % setup.conf),
            (lambda: setup.conf.write_text(setup.conf.read_text()[:-3]),
             '%s:' % setup.conf),  # unterminated block: the parser's message
            (lambda: setup.write("A", EXTRA_LISTEN="        listen 127.0.0.1:%d;\n        "
                                                   "listen 127.0.0.1:%d;" % (free_port(), busy)),
             "cannot listen on 127.0.0.1:%d: Address already in use" % busy),
        ]
        for n, (spoil, message) in enumerate(bad, 1):
            spoil()
            os.kill(gw.pid, signal.SIGHUP)
            for _ in range(300):
                if gw.stderr().count("reload failed, still serving the previous configuration: ") >= n:
                    break
                await asyncio.sleep(0.01)
            failed = [ln for ln in gw.stderr().splitlines()
                      if "reload failed, still serving the previous configuration: " in ln]
            assert len(failed) == n, gw.stderr()[-3000:]
            assert message in failed[-1], (message, failed[-1])
            # still serving the previous configuration, to new connections too
            ok, seen = await probe(setup, "A", ctx)
            assert ok, seen
            setup.write("A")
        assert t.error is None and t.rounds > 0, t.error
        assert reloads_logged(gw) == 0
        # a good one after the bad ones
        setup.write("A", EXTRA_LOCATION='        location = /only-b {\n            return 200 "only-b";\n        }')
        os.kill(gw.pid, signal.SIGHUP)
        for _ in range(300):
            if reloads_logged(gw) >= 1:
                break
            await asyncio.sleep(0.01)
        assert reloads_logged(gw) == 1
        for _ in range(50):
            ok, seen = await probe(setup, "A", ctx)
            if seen.get("only-b") == 200:
                break
            await asyncio.sleep(0.02)
        assert seen.get("only-b") == 200 and seen.get("only-a") == 404, seen
        stop.set()
        await asyncio.wait_for(echo, 20)
        assert t.error is None and t.closed_cleanly, t.error
    try:
        run(go(), 60)
    finally:
        held.close()
    # the failed reload that had bound a new port closed it again
    assert wait_until(lambda: open_fds(gw.pid) <= fds_before + 1, 3), (open_fds(gw.pid), fds_before)


def test_failed_reloads_leak_nothing(work, start_gateway):
    setup = Setup(work, n_backends=1)
    gw = start_reload_gateway(start_gateway, setup, "A")
    text = setup.conf.read_text()
    text = text.replace("listen 127.0.0.1:%d ssl;" % setup.p1,
                        "listen 127.0.0.1:%d ssl default_server;" % setup.p1)
    text = text.replace("    server {", "    server {\n        listen 127.0.0.1:%d ssl default_server;\n"
                        "        server_name y;\n        ssl_certificate %s;\n"
                        "        ssl_certificate_key %s;\n    }\n    server {"
                        % (setup.p1, setup.cert1, setup.key1), 1)
    setup.conf.write_text(text)
    for n in range(1, 6):
        gw.signal(signal.SIGHUP)
        assert wait_until(lambda: gw.stderr().count("reload failed") >= n, 5), gw.stderr()[-2000:]
    assert "a duplicate default server" in gw.stderr()
    gw.stop()
    problems = gw.problems()
    gw.checked = False  # reported here, not again at teardown
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# (c) -s reload and -s stop

def signal_cmd(setup, what):
    env = dict(os.environ, WSSGATE_HOME=str(setup.home))
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    return subprocess.run([wssgate_bin(), "-s", what, "-c", str(setup.conf)], env=env, timeout=30,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(setup.dir))


def test_s_reload_and_s_stop_through_the_pid_file(work, start_gateway):
    setup = Setup(work, n_backends=1)
    setup.write("A")
    # nothing running yet: -s says so
    p = signal_cmd(setup, "reload")
    assert p.returncode == 1 and b'cannot read a pid from "%s"' % str(setup.pid).encode() in p.stderr, p.stderr
    gw = start_reload_gateway(start_gateway, setup, "A")
    assert wait_until(lambda: setup.pid.exists() and setup.pid.read_text().strip() == str(gw.pid), 5), \
        (setup.pid.exists() and setup.pid.read_text())
    ctx = setup.client_ctx()
    assert run(probe(setup, "A", ctx), 20)[0]
    setup.write("A", EXTRA_LOCATION='        location = /only-b {\n            return 200 "only-b";\n        }')
    p = signal_cmd(setup, "reload")
    assert p.returncode == 0, p.stderr
    wait_reloads(gw, 1)

    async def follows():
        for _ in range(50):
            ok, seen = await probe(setup, "A", ctx)
            if seen.get("only-b") == 200:
                return seen
            await asyncio.sleep(0.02)
        return seen
    seen = run(follows(), 20)
    assert seen.get("only-b") == 200 and seen.get("only-a") == 404, seen
    assert gw.alive()
    p = signal_cmd(setup, "stop")
    assert p.returncode == 0, p.stderr
    assert gw.wait_exit(15) == 0, gw.stderr()[-2000:]
    assert not setup.pid.exists()
    assert not port_open("127.0.0.1", setup.p1)
    p = signal_cmd(setup, "bogus")
    assert p.returncode == 2 and b"-s bogus: use reload or stop" in p.stderr


def test_s_without_a_pid_line_says_how_to_fix_it(work):
    conf = work.path / "nopid.conf"
    conf.write_text("server {\n    listen 127.0.0.1:%d;\n}\n" % free_port())
    p = subprocess.run([wssgate_bin(), "-s", "reload", "-c", str(conf)], timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 1
    assert b'has no "pid FILE;" line, so the running instance cannot be found' in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------------
# (d) listeners added and removed

def test_removed_listen_stops_accepting_and_added_one_starts(work, start_gateway):
    setup = Setup(work)
    p3 = free_port()
    gw = start_reload_gateway(start_gateway, setup, "B")  # P1 (tls) and P2 (plain)
    ctx = setup.client_ctx()

    async def go():
        # a keep-alive connection on P2, opened before the reload
        r, w = await asyncio.open_connection("127.0.0.1", setup.p2)
        st, body = await http_exchange(r, w, "/only-b")
        assert (st, body) == (200, b"only-b")
        setup.write("B", EXTRA_LISTEN="        listen 127.0.0.1:%d;" % p3)
        os.kill(gw.pid, signal.SIGHUP)
        for _ in range(300):
            if reloads_logged(gw) >= 1:
                break
            await asyncio.sleep(0.01)
        assert reloads_logged(gw) == 1, gw.stderr()[-2000:]
        # the connection accepted on P2 keeps its generation and goes on
        st, body = await http_exchange(r, w, "/only-b")
        assert (st, body) == (200, b"only-b")
        w.close()
        # the new address serves, the removed one refuses
        for _ in range(100):
            if not port_open("127.0.0.1", setup.p2):
                break
            await asyncio.sleep(0.02)
        r3, w3 = await asyncio.open_connection("127.0.0.1", p3)
        st, body = await http_exchange(r3, w3, "/only-b", close=True)
        w3.close()
        assert (st, body) == (200, b"only-b")
        ok, seen = await probe(setup, "B", ctx)
        assert seen["only-b"] == 200 and seen["cert"] == "B" and seen["p2"] == "refused", seen
    run(go(), 30)
    assert not port_open("127.0.0.1", setup.p2)
    assert port_open("127.0.0.1", p3)
    # and back: P3 removed, P2 added again
    setup.write("B")
    gw.signal(signal.SIGHUP)
    wait_reloads(gw, 2)
    assert wait_until(lambda: not port_open("127.0.0.1", p3), 3)
    assert wait_until(lambda: port_open("127.0.0.1", setup.p2), 3)
    ok, seen = run(probe(setup, "B", ctx), 20)
    assert ok, seen


# ---------------------------------------------------------------------------------------------
# reloads racing with accepts (memory safety; ASan with its full quarantine)

def test_reloads_while_connections_arrive_are_memory_safe(work, start_gateway):
    """Connections arrive on listeners while reloads replace (and remove) them: a listener
    event that epoll returned in the same batch as the reload's wake-up must not reach a freed
    listener. ASan with its full quarantine; the gateway is stopped and checked here."""
    setup = Setup(work)
    gw = start_reload_gateway(start_gateway, setup, "B")
    stop = threading.Event()
    counts = []

    def flood(port):
        n = 0
        end = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(b"GET /only-b HTTP/1.1\r\nHost: localhost\r\n\r\n")
            except OSError:
                pass
            n += 1
        counts.append(n)
    threads = [threading.Thread(target=flood, args=(p,), daemon=True)
               for p in (setup.p1, setup.p2, setup.p1, setup.p2)]
    for t in threads:
        t.start()
    done = 0
    try:
        for k in range(120):
            setup.write("A" if k % 2 == 0 else "B")
            gw.signal(signal.SIGHUP)
            if not wait_until(lambda: reloads_logged(gw) >= k + 1 or not gw.alive(), 5, step=0.01):
                break
            if not gw.alive():
                break
            done = k + 1
            time.sleep(0.01)
        alive = gw.alive()
        if alive:
            ok, seen = run(probe(setup, "B" if done % 2 == 0 else "A", setup.client_ctx()), 20)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        gw.stop()
        problems = gw.problems()
        gw.checked = False  # checked here, in the test, not again at teardown
    assert not problems, "after %d reloads:\n%s" % (done, "\n".join(problems))
    assert done == 120 and alive
    assert sum(counts) > 500, counts
    assert ok, seen


def test_reload_moves_the_error_log_and_its_level(work, start_gateway):
    """SIGHUP applies the new configuration's error_log, file and level, as nginx does; a
    configuration without one sends the error log back to stderr at notice. (Before, only the
    error_log at start counted: a reload kept logging into the old file, at the old level.)"""
    import http.client
    port = free_port()
    first, second = work.path / "first-error.log", work.path / "second-error.log"
    conf = work.path / "errlog.conf"

    def write(error_log, body):
        conf.write_text("%sevents {}\nhttp {\n  server {\n    listen 127.0.0.1:%d;\n"
                        "    location / { return 200 \"%s\"; }\n  }\n}\n" % (error_log, port, body))

    def serves(body):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/")
            return c.getresponse().read().decode() == body
        finally:
            c.close()

    def reload_to(error_log, body):
        write(error_log, body)
        os.kill(gw.pid, signal.SIGHUP)
        assert wait_until(lambda: serves(body), 5), gw.stderr()[-2000:]

    write("error_log %s;\n" % first, "v1")
    gw = start_gateway(["-c", str(conf)], "127.0.0.1", [port])
    reload_to("error_log %s;\n" % second, "v2")
    assert wait_until(lambda: second.exists() and "configuration reloaded (generation 2)" in
                      second.read_text(), 5)
    assert "generation 2" not in first.read_text() and "generation 2" not in gw.stderr()
    reload_to("error_log %s error;\n" % second, "v3")  # notice lines are below error now
    reload_to("", "v4")
    assert wait_until(lambda: "configuration reloaded (generation 4)" in gw.stderr(), 5)
    text = second.read_text()
    assert "generation 3" not in text and "generation 4" not in text, text
