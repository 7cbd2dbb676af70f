"""`wssgate doctor`: every problem code reproduced by a real broken setup (gateways, backends,
Debian's nginx configured the way the seeds first did, certificates made for the wrong name,
CN-only, expired, self-signed, raw servers that answer wrongly) and diagnosed: code, browser
words, cause and fix. Exit status 0 only when the WebSocket works."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import gateway_env
from helpers import SANITIZER_MARKS, Proc, RawBackend, free_port, openssl, wssgate_bin

NGINX = "/usr/sbin/nginx"


# ---------------------------------------------------------------------------------------------
# running the command

class Result:
    def __init__(self, p, argv):
        self.rc, self.out, self.err, self.argv = p.returncode, p.stdout, p.stderr, argv
        self.json = None
        if "--json" in argv and self.out.strip():
            self.json = json.loads(self.out)

    def __repr__(self):
        return "<rc=%s argv=%s\n--- stdout ---\n%s\n--- stderr ---\n%s>" % (
            self.rc, " ".join(self.argv), self.out, self.err[-3000:])


def user_env(work, **extra):
    """The gateways' WSSGATE_HOME, plus a HOME and a trust dir of the test's own."""
    env = gateway_env(work.path / "home")
    (work.path / "home").mkdir(exist_ok=True)
    env["HOME"] = str(work.path / "user")
    (work.path / "user").mkdir(exist_ok=True)
    env["WSSGATE_TRUST_DIR"] = str(work.path / "trust")
    env.update(extra)
    return env


def wssgate(work, *args, timeout=60, env=None):
    argv = [wssgate_bin()] + [str(a) for a in args]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=env or user_env(work), cwd=str(work.path))
    r = Result(p, argv)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, r
    return r


def doctor(work, url, *args, env=None):
    return wssgate(work, "doctor", url, "--json", *args, env=env)


def doctor_c(work, conf, *args):
    return wssgate(work, "doctor", "-c", conf, "--json", *args)


def expect(r, code, *cause_words, fix_words=()):
    """r is a failed diagnosis with this code; its cause and fix say these words."""
    assert r.rc == 1, r
    j = r.json
    assert j["ok"] is False and j["problem"] == code, r
    for w in cause_words:
        assert w in j["cause"], (w, r)
    for w in fix_words:
        assert w in j["fix"], (w, r)
    assert j["fix"] and j["cause"], r
    assert any(s["status"] == "fail" for s in j["steps"]), r
    return j


def net_words(url, err):
    return "WebSocket connection to '%s' failed: Error in connection establishment: net::%s" % (url, err)


def status_words(url, status):
    return ("WebSocket connection to '%s' failed: Error during WebSocket handshake: "
            "Unexpected response code: %d" % (url, status))


# ---------------------------------------------------------------------------------------------
# raw servers that answer the handshake in one wrong way each

@pytest.fixture
def raw_server():
    """raw_server(answer) -> a loopback server on a thread: answer(sock, request_bytes) decides
    what happens to each connection, which then stays open until the test ends."""
    servers = []

    def start(answer):
        def handler(backend, conn):
            request = conn.read_until(b"\r\n\r\n", 30)
            if request is not None:
                answer(conn.sock, request)
                backend.stopping.wait()
        s = RawBackend(handler, name="raw_server")
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


def nginx_conf(work, name, port, body):
    d = work.path / name
    d.mkdir()
    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (d / t).mkdir()
    conf = d / "nginx.conf"
    conf.write_text("""
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/client_body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
%(body)s
    }
}
""" % {"d": d, "port": port, "body": body})
    return conf


@pytest.fixture
def nginx(work):
    """nginx(body) -> port of Debian's nginx running a server with these lines (stopped by PID)."""
    if not os.access(NGINX, os.X_OK):
        pytest.fail("nginx is not installed: scripts/install-deps installs nginx-light")

    def start(body):
        port = free_port()
        conf = nginx_conf(work, "nginx%d" % port, port, body)
        p = Proc("nginx%d" % port, [NGINX, "-e", str(conf.parent / "error.log"), "-c", str(conf),
                                    "-g", "daemon off; master_process off;"], work.path)
        work.procs.append(p)
        p.wait_ports("127.0.0.1", [port], timeout=10)
        return port
    return start


# ---------------------------------------------------------------------------------------------
# it works

def test_demo_works_with_ca_and_says_so(work, start_gateway):
    https, http, backend = free_port(), free_port(), free_port()
    start_gateway(["demo", "--https-port", https, "--http-port", http, "--backend-port", backend,
                   "--workers", "1"], "localhost", [https, http])
    url = "wss://localhost:%d/websocket/" % https
    ca = work.path / "home" / "ca.pem"
    r = doctor(work, url, "--ca", ca, "--page", "https://localhost:%d" % https)
    assert r.rc == 0, r
    j = r.json
    assert j["ok"] is True and j["problem"] is None and j["browser_error"] is None, r
    assert j["url"] == url
    assert [s["step"] for s in j["steps"]] == ["url", "page", "port", "dns", "tcp", "tls", "upgrade",
                                              "message"], r
    assert all(s["status"] in ("ok", "skip") for s in j["steps"]), r
    assert "it came back" in j["steps"][-1]["detail"]
    text = wssgate(work, "doctor", url, "--ca", ca)
    assert text.rc == 0 and "verdict: the WebSocket works." in text.out, text


def test_demo_works_once_the_local_ca_is_installed(work, start_gateway):
    https, http, backend = free_port(), free_port(), free_port()
    start_gateway(["demo", "--https-port", https, "--http-port", http, "--backend-port", backend,
                   "--workers", "1"], "localhost", [https, http])
    url = "wss://localhost:%d/websocket/" % https
    # not installed yet: a browser here would refuse the local CA's certificate
    j = expect(doctor(work, url), "cert-untrusted", "local CA", fix_words=["wssgate cert --install"])
    assert j["browser_error"] == net_words(url, "ERR_CERT_AUTHORITY_INVALID")
    inst = wssgate(work, "cert", "--install")
    assert inst.rc == 0, inst
    r = doctor(work, url)
    assert r.rc == 0 and r.json["ok"], r
    assert "trusted by Chromium here" in [s for s in r.json["steps"] if s["step"] == "tls"][0]["detail"]


def test_no_send_stops_at_the_open_socket(work, http_backend):
    b = http_backend()
    r = doctor(work, "ws://127.0.0.1:%d/raw101" % b.port, "--no-send")
    assert r.rc == 0 and r.json["steps"][-1]["status"] == "skip", r


def test_text_report_has_words_cause_fix(work):
    port = free_port()
    r = wssgate(work, "doctor", "ws://localhost:%d/" % port)
    assert r.rc == 1, r
    assert "problem: connection-refused" in r.out
    assert "the browser says:\n  " + net_words("ws://localhost:%d/" % port, "ERR_CONNECTION_REFUSED") in r.out
    assert "\ncause:\n  " in r.out and "\nfix:\n  " in r.out


# ---------------------------------------------------------------------------------------------
# URL, page, port, DNS, TCP

def test_bad_url(work):
    r = doctor(work, "ftp://example.com/")
    j = expect(r, "bad-url")
    assert j["browser_error"] == ("SyntaxError: Failed to construct 'WebSocket': The URL's scheme must "
                                  "be either 'http', 'https', 'ws', or 'wss'. 'ftp' is not allowed.")
    j = expect(doctor(work, "wss://localhost/x#top"), "bad-url")
    assert "fragment identifier ('top')" in j["browser_error"]


def test_mixed_content(work):
    j = expect(doctor(work, "ws://chat.example.com/im", "--page", "https://www.example.com/"),
               "mixed-content", "localhost", fix_words=["wss://", "location.protocol"])
    assert j["browser_error"] == (
        "Mixed Content: The page at 'https://www.example.com/' was loaded over HTTPS, but attempted "
        "to connect to the insecure WebSocket endpoint 'ws://chat.example.com/im'. This request has "
        "been blocked; this endpoint must be available over WSS.")
    assert "SecurityError" in j["cause"]
    assert [s["step"] for s in j["steps"]] == ["url", "page"]


def test_ws_localhost_from_https_page_works_but_warns(work, ws_backend):
    b = ws_backend()
    r = doctor(work, "ws://localhost:%d/" % b.port, "--page", "https://app.example.com")
    assert r.rc == 0 and r.json["ok"], r
    page = [s for s in r.json["steps"] if s["step"] == "page"][0]
    assert page["status"] == "warn" and "breaks once" in page["detail"], r
    # the origin of the page is what the service saw
    opened = b.events("open")
    assert any(n.lower() == "origin" and v == "https://app.example.com" for n, v in opened[0]["headers"])


def test_unsafe_port(work):
    j = expect(doctor(work, "wss://localhost:6000/"), "unsafe-port", "6000")
    assert j["browser_error"] == net_words("wss://localhost:6000/", "ERR_UNSAFE_PORT")
    assert "X11" in j["steps"][-1]["detail"]


def test_name_not_resolved(work):
    j = expect(doctor(work, "wss://wssgate-doctor-test.invalid/"), "name-not-resolved")
    assert j["browser_error"] == net_words("wss://wssgate-doctor-test.invalid/", "ERR_NAME_NOT_RESOLVED")


def test_connection_refused(work):
    port = free_port()
    url = "wss://127.0.0.1:%d/websocket/" % port
    j = expect(doctor(work, url), "connection-refused", "127.0.0.1 port %d" % port)
    assert j["browser_error"] == net_words(url, "ERR_CONNECTION_REFUSED")


# ---------------------------------------------------------------------------------------------
# TLS

def test_not_tls(work, proxy, ws_backend):
    g = proxy(ws_backend().url, scheme="http")
    url = "wss://localhost:%d/" % g.port
    j = expect(doctor(work, url), "not-tls", "plain HTTP", " 400 Bad Request", fix_words=["wssgate proxy"])
    assert j["browser_error"] == net_words(url, "ERR_SSL_PROTOCOL_ERROR")


def issue_cert(work, *args):
    r = wssgate(work, "cert", "--dir", work.path, *args)
    assert r.rc == 0, r
    base = work.path / r.out.split("certificate: ")[1].split()[0]
    return str(base), str(base).replace(".pem", "-key.pem")


def test_cert_name_mismatch(work, proxy, ws_backend):
    cert, key = issue_cert(work, "other.test")
    g = proxy(ws_backend().url, "--cert", cert, "--key", key)
    url = "wss://localhost:%d/" % g.port
    j = expect(doctor(work, url, "--ca", work.path / "home" / "ca.pem"), "cert-name-mismatch",
               "other.test", "12038", fix_words=["wssgate cert localhost", "ssl_certificate"])
    assert j["browser_error"] == net_words(url, "ERR_CERT_COMMON_NAME_INVALID")


def test_cert_cn_only(work, proxy, ws_backend):
    """The seeds' openssl recipe without a subjectAltName: the CN names the host, browsers ignore it."""
    issue_cert(work, "placeholder.test")  # creates the local CA
    home = work.path / "home"
    rc, out = openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", str(work.path / "cn.key"), "-out", str(work.path / "cn.csr"),
                       "-subj", "/CN=localhost"])
    assert rc == 0, out
    rc, out = openssl(["x509", "-req", "-in", str(work.path / "cn.csr"), "-CA", str(home / "ca.pem"),
                       "-CAkey", str(home / "ca-key.pem"), "-CAcreateserial", "-days", "30",
                       "-out", str(work.path / "cn-leaf.pem")])
    assert rc == 0, out
    (work.path / "cn.pem").write_text((work.path / "cn-leaf.pem").read_text() + (home / "ca.pem").read_text())
    g = proxy(ws_backend().url, "--cert", work.path / "cn.pem", "--key", work.path / "cn.key")
    url = "wss://localhost:%d/" % g.port
    j = expect(doctor(work, url, "--ca", home / "ca.pem"), "cert-name-mismatch",
               "only in its subject CN", "subjectAltName")
    assert j["browser_error"] == net_words(url, "ERR_CERT_COMMON_NAME_INVALID")


def test_cert_expired(work, proxy, ws_backend):
    issue_cert(work, "placeholder.test")
    home = work.path / "home"
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             str(work.path / "old.key"), "-out", str(work.path / "old.csr"), "-subj", "/CN=localhost"])
    (work.path / "ext").write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    rc, out = openssl(["x509", "-req", "-in", str(work.path / "old.csr"), "-CA", str(home / "ca.pem"),
                       "-CAkey", str(home / "ca-key.pem"), "-CAcreateserial", "-days", "-1",
                       "-extfile", str(work.path / "ext"), "-out", str(work.path / "old-leaf.pem")])
    assert rc == 0, out
    (work.path / "old.pem").write_text((work.path / "old-leaf.pem").read_text() + (home / "ca.pem").read_text())
    g = proxy(ws_backend().url, "--cert", work.path / "old.pem", "--key", work.path / "old.key")
    url = "wss://localhost:%d/" % g.port
    j = expect(doctor(work, url, "--ca", home / "ca.pem"), "cert-expired", "expired on",
               fix_words=["wssgate cert localhost"])
    assert j["browser_error"] == net_words(url, "ERR_CERT_DATE_INVALID")


def test_cert_untrusted_self_signed(work, proxy, ws_backend):
    cert, key = issue_cert(work, "--self-signed", "localhost")
    g = proxy(ws_backend().url, "--cert", cert, "--key", key)
    url = "wss://localhost:%d/" % g.port
    j = expect(doctor(work, url), "cert-untrusted", "self-signed", fix_words=["wssgate cert --install"])
    assert j["browser_error"] == net_words(url, "ERR_CERT_AUTHORITY_INVALID")
    # the same certificate named with --ca is trusted, as with curl --cacert
    r = doctor(work, url, "--ca", cert)
    assert r.rc == 0, r


# ---------------------------------------------------------------------------------------------
# the HTTP upgrade

def test_not_websocket_page(work, start_gateway):
    https, http, backend = free_port(), free_port(), free_port()
    start_gateway(["demo", "--https-port", https, "--http-port", http, "--backend-port", backend,
                   "--workers", "1"], "localhost", [https, http])
    url = "wss://localhost:%d/" % https
    j = expect(doctor(work, url, "--ca", work.path / "home" / "ca.pem"), "not-websocket", "200",
               "wssgate demo chat", fix_words=["location /websocket/", "proxy_pass"])
    assert j["browser_error"] == status_words(url, 200)


def test_not_found(work, proxy, ws_backend):
    g = proxy(ws_backend().url, path="/websocket/")
    url = "wss://localhost:%d/websockets/" % g.port
    j = expect(doctor(work, url, "--ca", g.ca), "not-found", "404", "/websockets/")
    assert j["browser_error"] == status_words(url, 404)


def test_redirect_nginx_adds_the_slash(work, nginx, ws_backend):
    """The seeds' page connects to /websocket while the location is /websocket/: nginx answers 301."""
    b = ws_backend()
    port = nginx("""
        location /websocket/ {
            proxy_pass http://127.0.0.1:%d/;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }""" % b.port)
    url = "ws://localhost:%d/websocket" % port
    j = expect(doctor(work, url), "redirect", "301", "/websocket/",
               fix_words=["location = /websocket", "trailing slash"])
    assert j["browser_error"] == status_words(url, 301)
    assert "nginx" in j["cause"]
    # and the URL with the slash works through that nginx
    r = doctor(work, url + "/")
    assert r.rc == 0, r


def test_upgrade_not_forwarded_by_nginx(work, nginx, ws_backend):
    """nginx without proxy_http_version 1.1 and the Upgrade/Connection lines, as the seeds first had."""
    b = ws_backend()
    port = nginx("""
        location / {
            proxy_pass http://127.0.0.1:%d;
        }""" % b.port)
    url = "ws://localhost:%d/" % port
    j = expect(doctor(work, url), "upgrade-not-forwarded", fix_words=[
        "proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
        'proxy_set_header Connection "upgrade";'])
    status = [s for s in j["steps"] if s["step"] == "upgrade"][0]["detail"].split()[1]
    assert status in ("400", "426"), j
    assert j["browser_error"] == status_words(url, int(status))


def test_forbidden(work, proxy, http_backend):
    g = proxy(http_backend().url)
    url = "wss://localhost:%d/status/403" % g.port
    j = expect(doctor(work, url, "--ca", g.ca), "forbidden", "403", "Origin")
    assert j["browser_error"] == status_words(url, 403)


def test_backend_down(work, proxy):
    g = proxy("ws://127.0.0.1:%d" % free_port())
    url = "wss://localhost:%d/chat" % g.port
    j = expect(doctor(work, url, "--ca", g.ca), "backend-down", "502", "refused")
    assert j["browser_error"] == status_words(url, 502)


def test_backend_timeout(work, proxy, http_backend):
    g = proxy(http_backend().url, "--read-timeout", "1s")
    url = "wss://localhost:%d/slow?s=4" % g.port
    j = expect(doctor(work, url, "--ca", g.ca), "backend-timeout", "504",
               fix_words=["proxy_read_timeout"])
    assert j["browser_error"] == status_words(url, 504)


def test_bad_accept(work, http_backend):
    b = http_backend()
    url = "ws://127.0.0.1:%d/raw101-bad-accept" % b.port
    j = expect(doctor(work, url), "bad-accept", "Sec-WebSocket-Accept")
    assert j["browser_error"] == ("WebSocket connection to '%s' failed: Error during WebSocket handshake: "
                                  "Incorrect 'Sec-WebSocket-Accept' header value" % url)


def test_no_upgrade_header(work, raw_server):
    s = raw_server(lambda c, req: c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"))
    url = "ws://127.0.0.1:%d/" % s.port
    j = expect(doctor(work, url), "no-upgrade-header", "'Upgrade' header is missing")
    assert j["browser_error"] == ("WebSocket connection to '%s' failed: Error during WebSocket handshake: "
                                  "'Upgrade' header is missing" % url)


def test_closed_before_response(work, raw_server):
    s = raw_server(lambda c, req: c.close())
    url = "ws://127.0.0.1:%d/x" % s.port
    j = expect(doctor(work, url), "closed-before-response")
    assert j["browser_error"] == ("WebSocket connection to '%s' failed: Connection closed before "
                                  "receiving a handshake response" % url)


def test_no_response(work, raw_server):
    s = raw_server(lambda c, req: None)  # reads the request and never answers
    url = "ws://127.0.0.1:%d/" % s.port
    j = expect(doctor(work, url, "--timeout", "1s"), "no-response", "1000 ms", fix_words=["--timeout"])
    assert j["browser_error"] == ("WebSocket connection to '%s' failed: WebSocket is closed before the "
                                  "connection is established." % url)


def test_no_echo(work, http_backend):
    b = http_backend()
    url = "ws://127.0.0.1:%d/raw101" % b.port
    j = expect(doctor(work, url, "--timeout", "1s"), "no-echo", "ping", fix_words=["--no-send"])
    assert j["browser_error"] == ""
    assert [s["step"] for s in j["steps"]][-2:] == ["upgrade", "message"]


def test_closed_after_open(work, ws_backend):
    b = ws_backend()
    j = expect(doctor(work, "ws://127.0.0.1:%d/close?code=4001&reason=nope" % b.port),
               "closed-after-open", "4001", "nope")
    assert j["browser_error"] == ""


# ---------------------------------------------------------------------------------------------
# usage

def test_usage_errors(work):
    r = wssgate(work, "doctor")
    assert r.rc == 2 and "which URL" in r.err, r
    r = wssgate(work, "doctor", "ws://localhost/", "--bogus")
    assert r.rc == 2 and "unknown option --bogus" in r.err, r
    r = wssgate(work, "doctor", "ws://localhost/", "--page", "ftp://x/")
    assert r.rc == 2 and "http:// or https://" in r.err, r
    r = wssgate(work, "doctor", "wss://localhost/", "--ca", work.path / "nope.pem")
    assert r.rc == 2 and "nope.pem" in r.err, r
    r = wssgate(work, "doctor", "ws://localhost/", "--timeout", "soon")
    assert r.rc == 2 and "--timeout" in r.err, r
    r = wssgate(work, "doctor", "--help")
    assert r.rc == 0 and "usage: wssgate doctor URL" in r.out, r


CONF = """events {}
http {
    upstream im-app {
        server 127.0.0.1:%(backend)d;
    }
    server {
        listen 127.0.0.1:%(port)d ssl;
        server_name %(name)s;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        location /websocket/ {
            proxy_pass http://im-app;
        }
    }
}
"""


def write_conf(work, **kw):
    cert, key = issue_cert(work, kw.pop("cert_name", "localhost"))
    vals = {"backend": free_port(), "port": free_port(), "name": "localhost", "cert": cert, "key": key}
    vals.update(kw)
    path = work.path / "wssgate.conf"
    path.write_text(CONF % vals)
    return path


def test_config_good(work, ws_backend):
    b = ws_backend()
    conf = write_conf(work, backend=b.port)
    r = doctor_c(work, conf)
    assert r.rc == 0, r
    steps = {s["step"]: s for s in r.json["steps"]}
    assert steps["config"]["status"] == "ok" and "1 servers" in steps["config"]["detail"], r
    assert steps["cert"]["status"] == "ok" and "key matches" in steps["cert"]["detail"], r
    assert steps["listen"]["status"] == "ok" and "free to bind" in steps["listen"]["detail"], r
    assert steps["upstream"]["status"] == "ok" and "im-app" in steps["upstream"]["detail"], r


def test_config_error_names_the_line(work):
    conf = work.path / "bad.conf"
    conf.write_text("events {}\nhttp {\n    server { listen 8080; bogus_directive on; }\n}\n")
    j = expect(doctor_c(work, conf), "config-error", "bad.conf:3:", "bogus_directive",
               fix_words=["-t"])
    assert j["browser_error"] == ""


def test_config_lint_cert_and_dead_upstream(work):
    conf = write_conf(work, name="chat.example.test", cert_name="www.example.test")
    j = expect(doctor_c(work, conf), "backend-down", "im-app")
    lint = [s["detail"] for s in j["steps"] if s["step"] == "lint"]
    assert any("does not cover server_name \"chat.example.test\"" in w for w in lint), j
    assert any("/websocket" in w and "301" in w for w in lint), j
    assert j["browser_error"].startswith("WebSocket connection to 'wss://chat.example.test:")


def test_config_unsafe_port(work, ws_backend):
    conf = write_conf(work, backend=ws_backend().port, port=6666)
    j = expect(doctor_c(work, conf), "unsafe-port", "6666")
    assert j["browser_error"].endswith("net::ERR_UNSAFE_PORT")


def test_config_and_url_together(work, ws_backend):
    """The URL works, the configuration has a dead upstream: both are walked, exit 1."""
    b = ws_backend()
    conf = write_conf(work)
    r = doctor_c(work, conf, "ws://127.0.0.1:%d/" % b.port)
    j = expect(r, "backend-down")
    names = [s["step"] for s in j["steps"]]
    assert names.index("message") < names.index("config"), j


def test_config_unreadable(work):
    r = wssgate(work, "doctor", "-c", work.path / "missing.conf")
    assert r.rc == 2 and "missing.conf" in r.err, r
