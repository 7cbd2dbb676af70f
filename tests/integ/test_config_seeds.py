"""The five configurations of the seed articles, run as written (issue 3).

tests/integ/fixtures/config/seed*.conf.in are the seeds (tests/unit/fixtures/conf/) with only file
paths, ports and certificate paths turned into {{PLACEHOLDERS}}; the first test proves that by
rendering each template with the seed's own values and comparing the bytes. Then `wssgate -t`
must pass and explain exactly the seed's mistakes (message and line), and `wssgate -c` must serve
what the configuration says: WebSocket to a ws echo backend, static files with the seed's
Expires/Cache-Control, the dotfile that nginx also serves, 501 for FastCGI, the 301 of
"/websocket", one access log per server.
"""
import email.utils
import os
import re
import shutil
import socket
import ssl
from datetime import datetime, timezone

import pytest
import websockets

from helpers import (CONF_FIXTURES, REPO, Closed, RawConn, conf_messages, conf_test, free_port,
                     host_cert, render_conf, run, wait_until, ws_upgrade_request)

SEED_DIR = REPO / "tests" / "unit" / "fixtures" / "conf"
ALLOWED = {"PORT", "BACKEND_PORT", "LOG_DIR", "CERT", "KEY", "ROOT"}  # paths, ports, certificates

UPGRADE = ('"proxy_set_header Upgrade" is not needed: wssgate forwards genuine WebSocket upgrades '
           'by itself and owns this hop-by-hop header (the line is accepted and has no effect)')
CONNECTION = ('"proxy_set_header Connection" is not needed: wssgate forwards genuine WebSocket '
              'upgrades by itself and owns this hop-by-hop header')
HOST_TWICE = ('header "Host" is set twice in this block: nginx would send two "Host" lines (a Host '
              'header twice is a 400 at many backends); keep one (wssgate uses the last)')
FASTCGI = ('FastCGI is not built yet: requests reaching this location get "501 Not Implemented"')
NO_CIPHER = ('no usable cipher in ssl_ciphers "xxxxxxxxxxxxx"; wssgate\'s modern default list is '
             'used')


def shadowed(regex_line):
    return ('this deny is shadowed: "/.secret.txt" is served by {conf}:%d location ~ '
            '.*\\.(gif|jpg|jpeg|png|bmp|swf|txt)$, because regex locations are tried in order and '
            'that one comes first. Move this location above it' % regex_line)


SEEDS = {
    "seed1": dict(
        file="seed1_http.conf", cert=None, tls=False, ws_path="/",
        originals=dict(PORT="80", BACKEND_PORT="9502", LOG_DIR="/data/log/nginx/wwwroot"),
        log="im",
        warnings=[(21, HOST_TWICE), (25, UPGRADE), (26, CONNECTION)]),
    "seed2": dict(
        file="seed2_certs_no_ssl.conf", cert="im.joshua317.com", tls=False, ws_path="/",
        originals=dict(PORT="80", BACKEND_PORT="9502", LOG_DIR="/data/log/nginx/wwwroot",
                       CERT="/usr/local/nginx/conf/ssl/xxxx.crt",
                       KEY="/usr/local/nginx/conf/ssl/xxxx.key"),
        log="im",
        warnings=[(8, 'TLS is not enabled on this server: it has a certificate but no "listen ... '
                      'ssl", so it speaks plain HTTP (and https pages will be blocked from ws:// as '
                      'mixed content). Write "listen 443 ssl;"'),
                  (28, HOST_TWICE), (32, UPGRADE), (33, CONNECTION)]),
    "seed3": dict(
        file="seed3_https.conf", cert="www.joshua317.com", tls=True, ws_path=None,
        originals=dict(PORT="443", LOG_DIR="/data/log/nginx/wwwroot",
                       CERT="/usr/local/nginx/conf/ssl/xxxx.crt",
                       KEY="/usr/local/nginx/conf/ssl/xxxx.com.key",
                       ROOT="/data/wwwroot/blog/public/"),
        log="blog",
        warnings=[(9, NO_CIPHER), (31, shadowed(23)), (36, FASTCGI), (42, FASTCGI)]),
    "seed4": dict(
        file="seed4_https_ws.conf", cert="www.joshua317.com", tls=True, ws_path="/websocket/",
        originals=dict(PORT="443", BACKEND_PORT="9502", LOG_DIR="/data/log/nginx/wwwroot",
                       CERT="/usr/local/nginx/conf/ssl/xxxx.crt",
                       KEY="/usr/local/nginx/conf/ssl/xxxx.com.key",
                       ROOT="/data/wwwroot/blog/public/"),
        log="blog",
        warnings=[(12, NO_CIPHER),
                  (27, 'a page connecting to "/websocket" (without the slash) gets a 301, and '
                       'browsers never follow redirects in a WebSocket handshake ("Unexpected '
                       'response code: 301"). Connect to "/websocket/" or add "location = '
                       '/websocket { proxy_pass ...; }"'),
                  (30, UPGRADE), (31, CONNECTION), (41, shadowed(33)), (46, FASTCGI),
                  (52, FASTCGI)]),
    "seed5": dict(
        file="seed5_ssl_on.conf", cert="127.0.0.1", tls=True, ws_path="/",
        originals=dict(PORT="443", BACKEND_PORT="19808", CERT="your.domain.com.pem",
                       KEY="your.domain.com.key"),
        log=None,
        warnings=[(4, '"ssl on" is deprecated (nginx removed it in 1.25); write "listen 443 ssl;" '
                      'instead. wssgate treats every listen of this server as ssl'),
                  (7, 'certificate "{cert}" does not cover server_name "your.domain.com": browsers '
                      'will show NET::ERR_CERT_COMMON_NAME_INVALID. Issue one that names it '
                      '(wssgate cert your.domain.com)'),
                  (11, 'SSLv3, SSLv2, TLSv1, TLSv1.1 refused: these protocols are broken (POODLE, '
                       'BEAST, weak MACs) and browsers no longer accept them; wssgate serves '
                       'TLSv1.2 and TLSv1.3 only. Write "ssl_protocols TLSv1.2 TLSv1.3;"'),
                  (12, 'weak ciphers dropped from ssl_ciphers: RC4+RSA:+LOW:+SSLv2:+EXP (RC4, '
                       'EXPORT, NULL, MD5, DES/3DES and anonymous suites are broken or refused by '
                       'browsers)'),
                  (17, UPGRADE), (18, CONNECTION)]),
}

DOCROOT = {
    "index.html": b"<h1>seed index</h1>\n",
    "hello.txt": b"hello from a text file\n",
    ".secret.txt": b"database password: hunter2\n",
    ".env": b"APP_KEY=secret\n",
    "app.js": b"console.log('seed');\n",
    "style.css": b"body { color: #333 }\n",
    "logo.png": bytes(range(256)) * 9,
    "404.html": b"<h1>seed 404 page</h1>\n",
    "x.php": b"<?php echo 'never run'; ?>\n",
    "sub/index.html": b"<p>sub index</p>\n",
}


class Seed:
    """A seed rendered into the work dir, its backend and (once started) its gateway."""

    def __init__(self, name, work):
        self.name, self.spec = name, SEEDS[name]
        self.conf = work.path / self.spec["file"]
        self.home = work.path / "home"
        self.logs = work.path / "logs"
        self.root = work.path / "www"
        self.port = free_port()
        self.cert = self.key = None
        self.gw = self.backend = None

    def render(self, backend_port=None):
        self.logs.mkdir(exist_ok=True)
        for rel, data in DOCROOT.items():
            p = self.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        shutil.copy(CONF_FIXTURES / "fastcgi_params", self.conf.parent / "fastcgi_params")
        values = dict(PORT=self.port, LOG_DIR=self.logs, ROOT=str(self.root) + "/",
                      BACKEND_PORT=backend_port or free_port())
        if self.spec["cert"]:
            self.cert, self.key = host_cert(self.home, self.spec["cert"])
            values.update(CERT=self.cert, KEY=self.key)
        render_conf(CONF_FIXTURES / (self.spec["file"] + ".in"), self.conf, **values)
        return self.conf

    def expected_warnings(self):
        return [(line, text.replace("{conf}", str(self.conf)).replace("{cert}", str(self.cert)))
                for line, text in self.spec["warnings"]]

    # -- clients --
    def ssl_context(self):
        return ssl.create_default_context(cafile=str(self.home / "ca.pem"))

    def connect(self, timeout=10.0):
        if not self.spec["tls"]:
            return RawConn("127.0.0.1", self.port, None, timeout=timeout)
        return RawConn("127.0.0.1", self.port, self.ssl_context(), timeout=timeout,
                       server_hostname=self.spec["cert"])

    def host_header(self):
        return "%s:%d" % (self.spec["cert"] or "im.joshua317.com", self.port)

    def get(self, path, extra=""):
        with self.connect() as c:
            c.send(("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n" % (
                path, self.host_header(), extra)).encode())
            return c.read_response()

    def ws_connect(self, path):
        scheme = "wss" if self.spec["tls"] else "ws"
        kw = dict(host="127.0.0.1", port=self.port, compression=None, max_size=None,
                  ping_interval=None, open_timeout=10, close_timeout=5)
        if self.spec["tls"]:
            kw.update(ssl=self.ssl_context(), server_hostname=self.spec["cert"])
        return websockets.connect("%s://%s%s" % (scheme, self.host_header(), path), **kw)


@pytest.fixture
def seed_gateway(work, start_gateway, ws_backend):
    """seed_gateway(name, backend=None) -> Seed running: rendered, its ws echo backend on the port
    the configuration names (unless a backend port is given), the gateway started on it."""
    def start(name, backend_port=None):
        s = Seed(name, work)
        if backend_port is None and "BACKEND_PORT" in s.spec["originals"]:
            s.backend = ws_backend()
            backend_port = s.backend.port
        s.render(backend_port)
        s.gw = start_gateway(["-c", str(s.conf)], "127.0.0.1", [s.port], home=s.home)
        return s
    return start


# ---------------------------------------------------------------------------------------------
# the fixtures are the seeds, changed only in paths, ports and certificates

@pytest.mark.parametrize("name", sorted(SEEDS))
def test_template_is_the_seed_with_only_paths_ports_and_certificates_changed(name, work):
    spec = SEEDS[name]
    template = (CONF_FIXTURES / (spec["file"] + ".in")).read_text()
    used = set(re.findall(r"\{\{([A-Z_]+)\}\}", template))
    assert used <= ALLOWED, used - ALLOWED
    assert used == set(spec["originals"]), "every placeholder has the seed's value and vice versa"
    back = render_conf(template, work.path / "back.conf", **spec["originals"])
    assert back.read_bytes() == (SEED_DIR / spec["file"]).read_bytes()
    assert (CONF_FIXTURES / "fastcgi_params").read_bytes() == (SEED_DIR / "fastcgi_params").read_bytes()
    assert "ssl_ciphers xxxxxxxxxxxxx;" in template or name in ("seed1", "seed5")


# ---------------------------------------------------------------------------------------------
# wssgate -t: passes, and explains exactly the seed's mistakes

@pytest.mark.parametrize("name", sorted(SEEDS))
def test_t_passes_with_exactly_the_expected_warnings(name, work):
    s = Seed(name, work)
    conf = s.render()
    status, err = conf_test(conf, cwd=work.path)
    assert status == 0, err
    lines = err.strip().splitlines()
    assert lines[-2:] == ["wssgate: the configuration file %s syntax is ok" % conf,
                          "wssgate: configuration file %s test is successful" % conf], err
    got = conf_messages(err, conf)
    assert all(w for _, w, _ in got), "an error in a seed that must load: %s" % err
    got = sorted((line, text) for line, _, text in got)
    expected = sorted(s.expected_warnings())
    # every warning is expected (message and line) and every expected one is there, once
    unmatched = list(got)
    for line, text in expected:
        hit = [g for g in unmatched if g[0] == line and g[1].startswith(text)]
        assert len(hit) == 1, "expected at line %d: %r\ngot:\n%s" % (
            line, text, "\n".join("%d: %s" % g for g in got))
        unmatched.remove(hit[0])
    assert not unmatched, "unexpected warnings:\n%s" % "\n".join("%d: %s" % g for g in unmatched)
    # nothing else on stderr than the warnings and the verdict
    other = [ln for ln in lines[:-2] if not ln.startswith("wssgate: %s:" % conf)]
    assert not other, other


# ---------------------------------------------------------------------------------------------
# running them

async def echo_round(ws, big=65536):
    await ws.send("hello ünïcode ✓ from the seed")
    assert await ws.recv() == "hello ünïcode ✓ from the seed"
    data = bytes(range(256)) * (big // 256) + os.urandom(13)
    await ws.send(data)
    got = await ws.recv()
    assert isinstance(got, bytes) and got == data
    for i in range(20):
        await ws.send("m%d" % i)
    assert [await ws.recv() for _ in range(20)] == ["m%d" % i for i in range(20)]


def header_values(headers, name):
    return [v for n, v in headers if n.lower() == name.lower()]


def check_access_log(s, *needles, absent=()):
    path = s.logs / s.spec["log"]
    ok = wait_until(lambda: path.exists() and all(n in path.read_text() for n in needles), 10)
    text = path.read_text() if path.exists() else "(no file %s)" % path
    assert ok, "access log %s lacks %r:\n%s" % (path, needles, text)
    for n in absent:
        assert n not in text, "%r logged though its location says access_log off:\n%s" % (n, text)


@pytest.mark.parametrize("name", ["seed1", "seed2", "seed5"])
def test_websocket_at_root_is_echoed_byte_exact(name, seed_gateway):
    s = seed_gateway(name)

    async def go():
        async with s.ws_connect(s.spec["ws_path"]) as ws:
            await echo_round(ws)
    run(go(), 60)
    opens = s.backend.events("open")
    assert len(opens) == 1 and opens[0]["path"] == "/"
    hdrs = opens[0]["headers"]
    if name in ("seed1", "seed2"):
        # "proxy_set_header Host $host;" then "Host $http_host;": one Host line, the last one's
        assert header_values(hdrs, "Host") == [s.host_header()]
        assert header_values(hdrs, "X-Real-IP") == ["127.0.0.1"]
        assert header_values(hdrs, "Whatis-Scheme") == ["http"]
        assert header_values(hdrs, "X-Forwarded-For") == ["127.0.0.1"]
    else:
        assert header_values(hdrs, "X-Real-IP") == ["127.0.0.1"]
        assert len(header_values(hdrs, "Host")) == 1
    assert [v.lower() for v in header_values(hdrs, "Upgrade")] == ["websocket"]
    if s.spec["log"]:
        check_access_log(s, "GET / HTTP/1.1")


def test_seed1_plain_request_gets_no_upgrade_headers_and_one_host(seed_gateway, raw_backend):
    """The seed sets "Connection: upgrade" on every request; wssgate owns that header and sends
    it only on genuine upgrades. And the rest of the seed's server block applies: its
    client_max_body_size 50m, proxy_hide_header and add_header lines."""
    def handler(backend, conn):
        head, _ = conn.read_request(timeout=20)
        if head is not None:
            conn.send(b"HTTP/1.1 200 OK\r\nServer: swoole-http-server\r\nX-Powered-By: PHP/8.2\r\n"
                      b"Content-Length: 5\r\nConnection: close\r\n\r\nplain")
    b = raw_backend(handler)
    s = seed_gateway("seed1", backend_port=b.port)
    r = s.get("/page?x=1")
    assert r.status == 200 and r.body == b"plain"
    assert r.header("X-Powered-By") is None and r.header("Server") != "swoole-http-server", r
    assert r.header("X-Frame-Options") == "SAMEORIGIN" and r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("X-XSS-Protection") == "1"
    assert wait_until(lambda: b.received() and b"\r\n\r\n" in b.received()[0], 5)
    head = b.received()[0].split(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n")
    assert lines[0] == "GET /page?x=1 HTTP/1.1"
    names = [ln.split(":", 1)[0].lower() for ln in lines[1:]]
    assert names.count("host") == 1 and ("Host: %s" % s.host_header()) in lines
    assert "upgrade" not in names, head
    assert not any(ln.lower().startswith("connection:") and "upgrade" in ln.lower() for ln in lines), head
    # client_max_body_size 50m: a 2 MiB upload passes (the default 1m would be a 413)
    body = os.urandom(2 << 20)
    with s.connect(timeout=30) as c:
        c.send(("POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (s.host_header(), len(body))).encode() + body)
        r = c.read_response()
    assert r.status == 200, r
    assert wait_until(lambda: len(b.conns) == 2 and len(b.conns[1].received) >= len(body), 10)
    assert b.conns[1].received.endswith(body)


def test_seed2_serves_plain_http_on_its_port_despite_the_certificates(seed_gateway):
    s = seed_gateway("seed2")
    # a TLS client gets no TLS: the port speaks plain HTTP, as the warning says
    ctx = s.ssl_context()
    with pytest.raises((ssl.SSLError, OSError, Closed)):
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="im.joshua317.com"):
                pass

    async def go():
        async with s.ws_connect("/") as ws:
            await ws.send("over plain ws://")
            assert await ws.recv() == "over plain ws://"
    run(go(), 30)
    check_access_log(s, "GET / HTTP/1.1")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_seed5_refuses_old_protocols_and_serves_tls12(seed_gateway):
    s = seed_gateway("seed5")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(s.home / "ca.pem"))
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this python cannot offer TLS 1.1")
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
            with old.wrap_socket(raw, server_hostname="127.0.0.1"):
                pass
    tls12 = s.ssl_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
        with tls12.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.version() == "TLSv1.2"
            cipher = t.cipher()[0]
            assert not any(w in cipher for w in ("RC4", "DES", "NULL", "EXP", "MD5")), cipher
            t.sendall(b"GET / HTTP/1.1\r\nHost: your.domain.com\r\nConnection: close\r\n\r\n")
            first = t.recv(100)
            assert first.startswith(b"HTTP/1.1 "), first


def expires_in(r, seconds):
    assert r.header("Cache-Control") == "max-age=%d" % seconds, r
    exp = email.utils.parsedate_to_datetime(r.header("Expires"))
    delta = (exp - datetime.now(timezone.utc)).total_seconds()
    assert abs(delta - seconds) < 120, (r.header("Expires"), delta)


@pytest.mark.parametrize("name", ["seed3", "seed4"])
def test_site_is_served_as_the_config_says(name, seed_gateway):
    s = seed_gateway(name)
    # "/" -> index.html -> "location = /index.html": its add_header replaces the server's
    r = s.get("/")
    assert r.status == 200 and r.body == DOCROOT["index.html"], r
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache, no-store"
    assert r.header("X-XSS-Protection") is None and r.header("Expires") is None
    # regex locations: expires 3d for .txt/.png, 1d for .js/.css; server add_header inherited
    r = s.get("/hello.txt")
    assert r.status == 200 and r.body == DOCROOT["hello.txt"], r
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("X-XSS-Protection") == "1" and r.header("X-Content-Type-Options") == "nosniff"
    expires_in(r, 3 * 86400)
    r = s.get("/logo.png")
    assert r.status == 200 and r.body == DOCROOT["logo.png"] and r.header("Content-Type") == "image/png"
    expires_in(r, 3 * 86400)
    for path in ("/app.js", "/style.css"):
        r = s.get(path)
        assert r.status == 200 and r.body == DOCROOT[path[1:]], r
        expires_in(r, 86400)
    # the seed's mistake, as nginx has it: the .txt regex comes first, so the dotfile is served
    r = s.get("/.secret.txt")
    assert r.status == 200 and r.body == DOCROOT[".secret.txt"], r
    # other dotfiles reach the deny
    assert s.get("/.env").status == 403
    # PHP: 501 that says FastCGI is not built, directly and through try_files' /index.php
    for path in ("/x.php", "/no-such-page"):
        r = s.get(path)
        assert r.status == 501, r
        assert b"FastCGI" in r.body and b"fastcgi_pass 127.0.0.1:9000" in r.body, r.body
    # error_page 404 /404.html
    r = s.get("/missing.txt")
    assert r.status == 404 and r.body == DOCROOT["404.html"], r
    # try_files $uri/ and index
    r = s.get("/sub/")
    assert r.status == 200 and r.body == DOCROOT["sub/index.html"], r
    # one access log for the server; the regex locations say access_log off
    check_access_log(s, '"GET / HTTP/1.1" 200', '"GET /x.php HTTP/1.1" 501',
                     absent=("GET /hello.txt", "GET /app.js", "GET /.env"))


def test_seed4_websocket_location_and_its_301(seed_gateway):
    s = seed_gateway("seed4")

    async def go():
        async with s.ws_connect("/websocket/") as ws:
            await echo_round(ws)
    run(go(), 60)
    opens = s.backend.events("open")
    assert [o["path"] for o in opens] == ["/websocket/"]
    # the page-side URL without the slash: a 301, which a WebSocket handshake never follows
    r = s.get("/websocket")
    assert r.status == 301 and r.header("Location").endswith("/websocket/"), r
    with s.connect() as c:
        c.send(ws_upgrade_request("/websocket", s.host_header()))
        r = c.read_response()
    assert r.status == 301, r

    assert r.header("Upgrade") is None and len(s.backend.events("open")) == 1
    check_access_log(s, '"GET /websocket/ HTTP/1.1" 101', '"GET /websocket HTTP/1.1" 301')


def test_seed_gateway_logs_its_warnings_and_listener_at_start(seed_gateway):
    s = seed_gateway("seed5")
    err = s.gw.stderr()
    assert "listening on https://0.0.0.0:%d" % s.port in err, err
    for line, text in s.expected_warnings():
        assert "%s:%d: warning: %s" % (s.conf, line, text) in err, (line, text, err)
