"""wss:// tunnels on wssgate's own TLS 1.3 record layer (websocket_tls_offload, on by default):
openssl s_client keeps talking across KeyUpdates both ways, for every TLS 1.3 suite; TLS 1.2 and
`websocket_tls_offload off` keep tunnels on OpenSSL. The gateway logs the hand-over at debug
level, which is how these tests see which layer carried the bytes."""
import os
import re
import select
import subprocess
import time

import pytest

from helpers import free_port, host_cert, wait_until, ws_frame, ws_upgrade_request, wssgate_bin

OFFLOADED = "TLS records of this tunnel now sealed by wssgate"


class SClient:
    """`openssl s_client -brief` as a WebSocket client: bytes in through stdin, out of stdout.
    A line "K" or "k" written alone is s_client's command to send a KeyUpdate (K: and ask the
    peer to update too)."""

    def __init__(self, port, ca, *args):
        self.p = subprocess.Popen(
            ["openssl", "s_client", "-connect", "localhost:%d" % port, "-servername", "localhost",
             "-CAfile", ca, "-verify_return_error", "-brief"] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read_until(self, done, timeout=10.0):
        end = time.monotonic() + timeout
        while not done(self.buf):
            left = end - time.monotonic()
            assert left > 0, "s_client output so far: %r" % self.buf
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                assert chunk, "s_client ended; output %r, stderr %r" % (
                    self.buf, self.p.stderr.read().decode(errors="replace"))
                self.buf += chunk

    def upgrade(self, host):
        self.send(ws_upgrade_request("/", host))
        self.read_until(lambda b: b"\r\n\r\n" in b)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def echo(self, payload):
        """Sends a masked text frame and expects the backend's unmasked echo (< 126 bytes)."""
        assert len(payload) < 126
        self.send(ws_frame(0x1, payload))
        want = bytes([0x81, len(payload)]) + payload
        self.read_until(lambda b: len(b) >= len(want))
        got, self.buf = self.buf[:len(want)], self.buf[len(want):]
        assert got == want

    def key_update(self, letter):
        self.send(letter + b"\n")
        time.sleep(0.3)  # s_client reads commands per read(2): keep the next frame apart

    def finish(self):
        self.send(ws_frame(0x8, b"\x03\xe8"))
        self.read_until(lambda b: len(b) >= 4)
        assert self.buf[:4] == b"\x88\x02\x03\xe8", self.buf
        self.p.stdin.close()
        self.p.wait(timeout=10)
        return self.p.stderr.read().decode(errors="replace")


def offloaded(gw):
    return gw.stderr().count(OFFLOADED)


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"])
def test_key_updates_both_ways_through_the_record_layer(gw_ws, suite):
    gw = gw_ws("--log-level", "debug")
    c = SClient(gw.port, gw.ca, "-tls1_3", "-ciphersuites", suite)
    c.upgrade("localhost:%d" % gw.port)
    c.echo(b"before any update")
    assert wait_until(lambda: offloaded(gw) == 1, 5), gw.stderr()
    for i in range(20):
        c.echo(b"message %d " % i + b"x" * i)
    # K: the client updates its keys and asks wssgate to update its own before its next record.
    c.key_update(b"K")
    c.echo(b"after K")
    c.key_update(b"k")
    c.echo(b"after k")
    c.key_update(b"K")
    c.key_update(b"K")
    for i in range(5):
        c.echo(b"after two more %d" % i)
    err = c.finish()
    assert err.count("KEYUPDATE") == 4, err
    assert offloaded(gw) == 1


def test_tls12_tunnels_stay_on_openssl(gw_ws):
    gw = gw_ws("--log-level", "debug")
    c = SClient(gw.port, gw.ca, "-tls1_2")
    c.upgrade("localhost:%d" % gw.port)
    for i in range(5):
        c.echo(b"tls 1.2 message %d" % i)
    c.finish()
    assert offloaded(gw) == 0


def test_offload_off_keeps_tunnels_on_openssl(work, start_gateway, ws_backend):
    backend = ws_backend()
    port = free_port()
    cert, key = host_cert(work.path / "home", "localhost")
    conf = work.path / "offload-off.conf"
    log = work.path / "error.log"
    conf.write_text(
        "error_log %s debug;\n"
        "events {}\n"
        "http {\n"
        "  server {\n"
        "    listen 127.0.0.1:%d ssl;\n"
        "    server_name localhost;\n"
        "    ssl_certificate %s;\n"
        "    ssl_certificate_key %s;\n"
        "    location /off/ { websocket_tls_offload off; proxy_pass %s;\n"
        "      proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n"
        "      proxy_set_header Connection \"upgrade\"; }\n"
        "    location / { proxy_pass %s;\n"
        "      proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n"
        "      proxy_set_header Connection \"upgrade\"; }\n"
        "  }\n"
        "}\n" % (log, port, cert, key, backend.url, backend.url))
    gw = start_gateway(["-c", str(conf)], "localhost", [port])

    def count():
        return len(re.findall(OFFLOADED, log.read_text())) if log.exists() else 0

    c = SClient(port, gw.ca, "-tls1_3")
    c.send(ws_upgrade_request("/off/", "localhost:%d" % port))
    c.read_until(lambda b: b"\r\n\r\n" in b)
    head, _, c.buf = c.buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    for i in range(5):
        c.echo(b"on OpenSSL %d" % i)
    c.finish()
    assert count() == 0, log.read_text()
    # The same server, another location (offload on by default): this one moves.
    c = SClient(port, gw.ca, "-tls1_3")
    c.upgrade("localhost:%d" % port)
    c.echo(b"on the record layer")
    c.finish()
    assert wait_until(lambda: count() == 1, 5), log.read_text()


def wsload(gw, *args, mode="echo"):
    """The benchmark's load generator (built next to the gateway under test) against gw, in
    echo mode (half a second) or another; its key=value report as a dict."""
    binary = os.path.join(os.path.dirname(wssgate_bin()), "bench", "wsload")
    assert os.access(binary, os.X_OK), "%s missing: `make` builds it with the gateway" % binary
    window = ["--duration", "0.5", "--warmup", "0.1"] if mode == "echo" else []
    r = subprocess.run([binary, mode, "--url", "wss://127.0.0.1:%d/" % gw.port] + window
                       + list(args), capture_output=True, text=True, timeout=60)
    report = dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)
    assert r.returncode == 0 and report.get("errors") == "0", (r.stdout, r.stderr)
    return report


@pytest.mark.parametrize("size", [64, 20000])
def test_record_layer_on_both_ends(gw_ws, size):
    """The load generator hands its connections over to the record layer as a client, the
    gateway as a server: byte-exact echoes (multi-record messages at 20,000 bytes), clean close
    handshakes, and both sides really moved."""
    gw = gw_ws("--log-level", "debug")
    r = wsload(gw, "--conns", "4", "--size", str(size))
    assert int(r["msgs"]) > 0 and r["unclean_closes"] == "0", r
    assert r["client_record_layer"] == "4", r
    assert r["tls"] == "TLSv1.3", r
    assert wait_until(lambda: offloaded(gw) >= 4, 5), gw.stderr()


def test_load_generator_can_stay_on_openssl(gw_ws):
    gw = gw_ws()
    r = wsload(gw, "--conns", "2", "--client-tls", "openssl")
    assert int(r["msgs"]) > 0 and r["client_record_layer"] == "0", r


UPSTREAM_OFFLOADED = "TLS records to the backend now sealed by wssgate"


def test_wss_backend_tunnels_leave_openssl_too(gw_ws, proxy):
    """A wss:// backend (here a second gateway): the first gateway's client side of each tunnel
    moves onto the record layer as well; echoes stay byte-exact, also across records."""
    inner = gw_ws("--log-level", "debug")
    outer = proxy("wss://127.0.0.1:%d" % inner.port, "--log-level", "debug")
    for size in ("64", "20000"):
        r = wsload(outer, "--conns", "3", "--size", size)
        assert int(r["msgs"]) > 0 and r["unclean_closes"] == "0", r
    assert wait_until(lambda: outer.stderr().count(UPSTREAM_OFFLOADED) >= 6, 5), outer.stderr()
    assert outer.stderr().count(OFFLOADED) >= 6
    assert wait_until(lambda: offloaded(inner) >= 6, 5), inner.stderr()


def test_command_line_log_options_win_over_error_log(work, start_gateway, ws_backend):
    """`wssgate -c FILE --log-level debug` logs at debug into the configuration's error_log file
    (its `error` level loses), and `--error-log` moves the lines elsewhere, as nginx's -e does.
    The tunnel's debug line about the record layer is what shows it."""
    backend = ws_backend()
    cert, key = host_cert(work.path / "home", "localhost")
    conf_log = work.path / "conf-error.log"
    cli_log = work.path / "cli-error.log"
    for extra, where in ((["--log-level", "debug"], conf_log),
                         (["--log-level", "debug", "--error-log", str(cli_log)], cli_log)):
        port = free_port()
        conf = work.path / ("logs-%d.conf" % port)
        conf.write_text(
            "error_log %s error;\n"
            "events {}\n"
            "http {\n"
            "  server {\n"
            "    listen 127.0.0.1:%d ssl;\n"
            "    ssl_certificate %s;\n"
            "    ssl_certificate_key %s;\n"
            "    location / { proxy_pass %s; }\n"
            "  }\n"
            "}\n" % (conf_log, port, cert, key, backend.url))
        gw = start_gateway(["-c", str(conf)] + extra, "localhost", [port])
        before = conf_log.read_text().count(OFFLOADED) if conf_log.exists() else 0
        c = SClient(port, gw.ca, "-tls1_3")
        c.upgrade("localhost:%d" % port)
        c.echo(b"logged at debug")
        c.finish()
        assert wait_until(lambda: where.exists() and OFFLOADED in where.read_text(), 5), (
            where, where.read_text() if where.exists() else "(no file)")
        if where == cli_log:
            after = conf_log.read_text().count(OFFLOADED) if conf_log.exists() else 0
            assert after == before, "the configuration's error_log got the lines too"


@pytest.mark.release_build
def test_memory_goes_back_after_a_mass_close(gw_ws):
    """2,000 idle tunnels open and close: the gateway hands the freed heap back to the system
    (malloc_trim once half the connections since the peak are gone), where glibc alone would
    keep the RSS at its peak. The second round is measured, after the pools and the allocator
    reached their working size in the first. 16 workers: the fall counts the whole process's
    connections (per worker, 125 each would never reach the 256 closes a trim waits for)."""
    gw = gw_ws("--workers", "16")
    for _ in range(2):
        r = wsload(gw, "--conns", "2000", "--hold", "0.5", "--pid", str(gw.pid), mode="idle")
    before, hold, after = (int(r[k]) for k in ("rss_before_kib", "rss_hold_kib",
                                                "rss_after_kib"))
    assert r["pongs"] == "2000", r
    # Kept memory shows either way: as an RSS still at the first round's peak when the second
    # starts (its tunnels then fit in what is already there), or as one that stays up after.
    assert hold - before > 2000, ("2,000 tunnels took no memory: the first round's was still "
                                  "held when the second started", r)
    assert after - before < (hold - before) / 4, ("the RSS stayed up after the close", r)
