"""Differential test: the same configuration file run by Debian's nginx and by wssgate.

fixtures/differential/differential.conf.in is rendered twice — only ports and paths differ — and
started once with /usr/sbin/nginx (one worker: its balancer state is per worker, wssgate's is
shared by its threads) and once with `wssgate -c FILE`, both plain HTTP on free ports. Backends
are threads of this process, one per backend id, answering 200 with headers naming the backend and
the exact request-target, Host and X-Uri they received. The same table of requests (method,
target, Host, port) is sent, in order, to both; for each one the status, the backend that answered
(or none), the forwarded request-target and Host, the Location of redirects (listen ports
normalized) and the bodies the configuration itself defines (return texts, static files) must be
the same. Server, Date and built-in error page bodies legitimately differ and are not compared.

On a disagreement the test prints a table: request, nginx's result, wssgate's result. A case where
wssgate is known to be wrong carries xfail(strict=True) with the reason.
"""
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import Gateway, Proc, RawBackend, RawConn, free_port, wssgate_bin

NGINX = "/usr/sbin/nginx"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "differential"
TEMPLATE = FIXTURES / "differential.conf.in"

BACKEND_IDS = ["exact_root", "root", "exact", "exact_prefix", "stop", "php", "img", "docs",
               "inner", "docs_txt", "uri", "p", "up1", "pool_a", "pool_b", "pool_c", "backup",
               "hdr", "rw", "cap", "acl", "named"]


# ---------------------------------------------------------------------------------------------
# The request table. Order matters: balancer state (round robin, least_conn) carries over from one
# request to the next, identically in both engines since both get the same sequence.

class Case:
    def __init__(self, method, target, host="main.test", port="A", version="1.1", body=None,
                 xfail=None):
        self.method, self.target, self.host, self.port = method, target, host, port
        self.version, self.body, self.xfail = version, body, xfail

    @property
    def id(self):
        h = "no-Host" if self.host is None else "Host=%s" % (self.host or '""')
        v = "" if self.version == "1.1" else " HTTP/%s" % self.version
        return "%s %s %s :%s%s" % (self.method, self.target, h, self.port, v)

    def raw(self):
        lines = ["%s %s HTTP/%s" % (self.method, self.target, self.version)]
        if self.host is not None:
            lines.append("Host: %s" % self.host)
        if self.body is not None:
            lines.append("Content-Length: %d" % len(self.body))
        lines.append("Connection: close")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("latin-1") + (self.body or b"")


# A case where wssgate is known to differ carries xfail=REASON (strict: once fixed, the case
# passes and the mark must go). The ten disagreements the first run found are fixed.

C = Case
CASES = [
    # ---- server_name on port A ----
    C("GET", "/s", host="exact.test"),
    C("GET", "/s", host="EXACT.Test"),
    C("GET", "/s", host="exact.test:8080"),
    C("GET", "/s", host="exact.test."),
    C("GET", "/s", host="a.wild.test"),
    C("GET", "/s", host="exact.wild.test"),          # exact beats the wildcard
    C("GET", "/s", host="x.deep.wild.test"),         # the longest wildcard wins
    C("GET", "/s", host="wild.test"),                # *.wild.test does not match the bare name
    C("GET", "/s", host="dot.test"),                 # .dot.test: the name itself ...
    C("GET", "/s", host="a.b.dot.test"),             # ... and every subdomain
    C("GET", "/s", host="www.anything.org"),         # www.*
    C("GET", "/s", host="www.a.wild.test"),          # leading wildcard beats trailing
    C("GET", "/s", host="re12.test"),                # ~regex
    C("GET", "/s", host="www.re12.test"),            # trailing wildcard beats regex
    C("GET", "/s", host="A.WILD.TEST"),
    C("GET", "/s", host="unknown.test"),             # default_server
    C("GET", "/s", host="127.0.0.1"),
    C("GET", "/s", host=None, version="1.0"),        # no Host: default_server
    C("GET", "/s", host=None),                       # HTTP/1.1 without Host: 400
    C("GET", "/s", host=""),                         # empty Host: 400
    C("GET", "/s", host="bad/host"),                 # invalid Host: 400
    # absolute-form: its host is used
    C("GET", "http://exact.test/abs", host="main.test"),
    # ---- server_name on port B ----
    C("GET", "/s", host="first.b", port="B"),
    C("GET", "/s", host="second.b", port="B"),
    C("GET", "/s", host="third.b", port="B"),
    C("GET", "/s", host="unknown.b", port="B"),      # default_server, not the first server
    # no Host: the server named ""
    C("GET", "/s", host=None, port="B", version="1.0"),
    # ---- location kinds ----
    C("GET", "/"),
    C("GET", "/?q=1"),
    C("GET", "/anything/else"),
    C("GET", "/exact"),
    C("GET", "/exact?x=1"),
    C("GET", "/exact/"),
    C("GET", "/exactly"),
    C("GET", "/stop/x.php"),                         # ^~ stops the regex search
    C("GET", "/other/x.php"),
    C("GET", "/other/x.PHP"),                        # ~ is case-sensitive
    C("GET", "/img/a.PNG"),                          # ~* is not
    C("GET", "/img/b.jpg"),
    C("GET", "/docs/readme"),
    C("GET", "/docs/a.txt"),                         # nested regex
    C("GET", "/docs/a.php"),                         # outer regex
    C("GET", "/docs/inner/y"),                       # nested prefix
    C("GET", "/docs/inner/y.txt"),                   # the regex of the enclosing level
    C("GET", "/docs/inner/y.php"),
    C("GET", "/docs"),               # auto-redirect: /docs/ has proxy_pass
    C("GET", "/rc/abc/42?z=9"),                      # regex captures in return text
    # ---- proxy_pass URI forms ----
    C("GET", "/nouri/a/b?x=1&y=2"),
    C("GET", "/slash/a/b?x=1"),
    C("GET", "/sub/a"),
    C("GET", "/sub/"),
    C("GET", "/noslash/a"),
    C("GET", "/noslashfoo"),
    C("GET", "/p"),                  # auto-redirect to /p/
    C("GET", "/p?x=1"),
    C("HEAD", "/p"),
    C("GET", "/p/"),
    C("GET", "/P/x"),
    C("GET", "/pe"),           # auto-redirect for an exact location too
    C("GET", "/pe/"),
    C("GET", "/up/x?k=v"),
    C("GET", "/upuri/x?k=v"),
    C("GET", "/down/1"),
    C("GET", "/down/2"),
    C("GET", "/backup/1"),
    C("GET", "/backup/2"),
    C("GET", "/dead/x"),
    C("GET", "/hdr/a%20b?q=1", host="Main.Test:1234"),
    C("POST", "/nouri/post", body=b"hello=world"),
    C("HEAD", "/nouri/head"),
    C("DELETE", "/slash/del"),
    # ---- normalization ----
    C("GET", "/a/../docs/x"),
    C("GET", "/slash/../slash/x"),
    C("GET", "/docs/%2e%2e/slash/a%20b"),
    C("GET", "/%2e%2e/x"),
    C("GET", "/../x"),
    C("GET", "//slash//x"),
    C("GET", "/docs/./inner/x"),
    C("GET", "/sub/%41b"),
    C("GET", "/sub/a%3Fb?c=d"),
    C("GET", "/slash/a%2Fb"),
    C("GET", "/nouri/a%2Fb"),
    C("GET", "/slash/x?a=1&b=%20"),
    C("GET", "/slash/%zz"),
    C("GET", "/slash/a%00b"),
    C("GET", "/docs/inner/../../slash/x"),
    C("GET", "/slash/x/."),
    C("GET", "/slash/x/.."),
    C("GET", "/slash/%2e%2e/%2e%2e/x"),
    C("GET", "/sub/%7Euser"),
    C("GET", "/sub/caf%C3%A9"),
    C("GET", "/sub/a+b;c=d,e"),
    C("GET", "/sub/a%22b%23c%25d%09e%7F"),           # re-escaped when the URI is replaced
    C("GET", "/sub/a%3Cb%3E"),
    C("GET", "/slash/a%5Cb"),
    C("GET", "/sub/a%60%7B%7D%7C%5E"),
    # ---- return ----
    C("GET", "/ret/text?a=b"),
    C("GET", "/ret/403"),
    C("GET", "/ret/418"),
    C("GET", "/ret/404"),   # error_page applies to return codes
    C("GET", "/ret/404text"),                        # ... but not when return has a text
    C("GET", "/ret/204"),
    C("GET", "/ret/301"),
    C("GET", "/ret/302rel"),
    C("GET", "/ret/url"),
    C("GET", "/ret/307?v=1"),
    C("POST", "/ret/text", body=b"x"),
    # ---- rewrite ----
    C("GET", "/old/12/abc"),                         # server-level rewrite ... last
    C("GET", "/rw/last/x?q=1"),
    C("GET", "/rw/chain/x"),
    C("GET", "/rw/break/y?q=2"),
    C("GET", "/rw/redir/z?q=3"),
    C("GET", "/rw/perm/z"),
    C("GET", "/rw/abs/w?q=4"),
    C("GET", "/rw/args/a?orig=1"),
    C("GET", "/rw/noargs/a?orig=1"),
    C("GET", "/rw/loop/x"),
    C("GET", "/rw/none"),
    C("GET", "/rwuri/a/b?q=5"),
    C("GET", "/re/abc/42?q=6"),
    # ---- allow / deny ----
    C("GET", "/acl/deny/x"),
    C("GET", "/acl/allow/x"),
    C("GET", "/acl/net/x"),
    C("GET", "/acl/other/x"),
    C("GET", "/acl/ep/x"),                           # error_page 403
    # ---- static ----
    C("GET", "/files/"),
    C("GET", "/files/a.txt"),
    C("GET", "/files/a.txt?v=1"),
    C("HEAD", "/files/a.txt"),
    C("POST", "/files/a.txt", body=b"x"),
    C("GET", "/files/missing"),                      # error_page 404 /err.html
    C("GET", "/files/sub"),          # directory: 301 to /files/sub/
    C("GET", "/files/sub/"),                         # directory without index: 403
    C("GET", "/files"),                              # "/" (static /files/: no auto-redirect)
    C("GET", "/idx/"),
    C("GET", "/al/c.txt"),
    C("GET", "/al/"),
    C("GET", "/tf/exists.txt"),
    C("GET", "/tf/"),
    C("GET", "/tf/missing?m=1"),                     # try_files ... @fallback
    C("GET", "/tf2/missing"),                        # try_files ... /files/a.txt
    C("GET", "/tf404/missing"),                      # =404, then error_page
    C("GET", "/ep/here.txt"),
    C("GET", "/ep/missing?e=1"),                     # error_page 404 = @named
    C("GET", "/err.html"),
    # ---- balancing (order-dependent) ----
] + [C("GET", "/rr/%d" % i) for i in range(8)] \
  + [C("GET", "/rr3/%d" % i) for i in range(8)] \
  + [C("GET", "/lc/%d" % i) for i in range(4)] \
  + [C("GET", "/iph/%d" % i) for i in range(2)] \
  + [C("GET", "/hash/?k=%s" % k)
     for k in ("alpha", "beta", "gamma", "delta", "alpha")] \
  + [C("GET", "/hashu/%s" % k) for k in ("alpha", "one", "six", "k2", "k3", "alpha")] \
  + [C("GET", "/chash/%s" % k) for k in ("alpha", "beta", "gamma", "delta", "alpha")]


# ---------------------------------------------------------------------------------------------
# Backends: one thread-per-connection server per backend id

class EchoBackend(RawBackend):
    """Answers every request with 200 and X-Backend/X-Target/X-Host/X-Method/X-Uri headers (the
    body says the same), then closes."""

    def __init__(self, bid):
        self.bid = bid
        super().__init__(EchoBackend._serve, name="echo_backend_" + bid)

    def _serve(self, conn):
        head = conn.read_until(b"\r\n\r\n", 5)
        if head is None:
            return
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
        hdrs = {}
        for line in lines[1:]:
            n, _, v = line.partition(":")
            hdrs.setdefault(n.strip().lower(), []).append(v.strip())
        n = int(hdrs.get("content-length", ["0"])[0])
        while len(conn.buf) < n and conn.fill(5):
            pass
        rest = conn.buf
        host = ",".join(hdrs.get("host", []))
        xuri = ",".join(hdrs.get("x-uri", []))
        body = ("backend=%s method=%s target=%s host=%s body=%d\n" % (
            self.bid, method, target, host, len(rest))).encode("latin-1")
        conn.send(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                   "X-Backend: %s\r\nX-Target: %s\r\nX-Host: %s\r\nX-Method: %s\r\n"
                   "X-Uri: %s\r\nConnection: close\r\n\r\n" % (
                       len(body), self.bid, target, host, method, xuri)).encode("latin-1")
                  + body)


# ---------------------------------------------------------------------------------------------
# Rendering and starting the two engines

def render(dst_dir, ports, backends, dead, engine_main, engine_http):
    dst_dir.mkdir(parents=True, exist_ok=True)
    (dst_dir / "engine-main.conf").write_text(engine_main)
    (dst_dir / "engine-http.conf").write_text(engine_http)
    values = {"PORT_A": str(ports["A"]), "PORT_B": str(ports["B"]), "RUN": str(dst_dir),
              "WWW": str(FIXTURES / "www"), "ALIASED": str(FIXTURES / "aliased"),
              "DEAD": str(dead)}
    values.update({"B_" + b.bid: str(b.port) for b in backends.values()})

    def sub(m):
        if m.group(1) not in values:
            raise KeyError("differential.conf.in: unknown placeholder {{%s}}" % m.group(1))
        return values[m.group(1)]

    conf = dst_dir / "differential.conf"
    conf.write_text(re.sub(r"\{\{(\w+)\}\}", sub, TEMPLATE.read_text()))
    return conf


def nginx_files(run):
    """What only nginx needs: as root its workers would run as nobody, who cannot read the temp
    dir; its temp paths must not be Debian's /var/lib/nginx."""
    main = "user root;\n" if os.geteuid() == 0 else ""
    http = "".join("%s %s/%s;\n" % (d, run, d.split("_temp")[0]) for d in (
        "client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path",
        "scgi_temp_path"))
    return main, http


class Engine:
    def __init__(self, name, proc, ports):
        self.name, self.proc, self.ports = name, proc, ports


def start_engine(name, argv, run, ports, env=None, gateway=False):
    if gateway:
        home = run / "home"
        home.mkdir(exist_ok=True)
        p = Gateway(name, argv, run, home, "127.0.0.1", list(ports.values()), env)
    else:
        p = Proc(name, argv, run, env=env)
    try:
        p.wait_ports("127.0.0.1", list(ports.values()), timeout=15)
    except AssertionError:
        p.checked = False
        p.stop()
        raise
    return Engine(name, p, ports)


# ---------------------------------------------------------------------------------------------
# Sending a request and reducing the response to what is compared

def observe(engine, case):
    port = engine.ports[case.port]
    try:
        with RawConn("127.0.0.1", port, None, timeout=10) as c:
            c.send(case.raw())
            r = c.read_response(method=case.method)
    except Exception as e:  # noqa: BLE001 - a reset or garbage is a result like any other
        return {"status": "no response (%s)" % type(e).__name__}
    out = {"status": r.status}
    bid = r.header("X-Backend")
    if bid:
        out["backend"] = bid
        out["target"] = r.header("X-Target")
        out["fwd_host"] = r.header("X-Host")
        if r.header("X-Uri"):
            out["x_uri"] = r.header("X-Uri")
    loc = r.header("Location")
    if loc is not None:
        for label, p in engine.ports.items():
            loc = re.sub(r":%d(?=[/?#]|$)" % p, ":PORT_" + label, loc)
        out["location"] = loc
    body = r.body.decode("latin-1")
    if not bid and re.match(r"(ret|srv|static):", body):
        out["body"] = body.strip()
    return out


def fmt(res):
    return " ".join("%s=%s" % (k, res[k]) for k in ("status", "backend", "target", "fwd_host",
                                                       "x_uri", "location", "body") if k in res)


def table(rows):
    """rows: [(case, nginx result, wssgate result)] -> a readable text table."""
    out = []
    for case, a, b in rows:
        out.append("request: %s\n  nginx  : %s\n  wssgate: %s%s" % (
            case.id, fmt(a), fmt(b), "\n  (xfail: %s)" % case.xfail if case.xfail else ""))
    return "\n".join(out)


def run_both(tmp):
    """Starts the backends, nginx and wssgate, sends every case to both in order and stops them
    (by PID). Returns [(case, nginx result, wssgate result)]; fails if wssgate did not exit 0 or
    printed a sanitizer report."""
    from conftest import gateway_env

    backends = {bid: EchoBackend(bid) for bid in BACKEND_IDS}
    engines, problems = [], []
    try:
        dead = free_port()
        run = tmp / "nginx"
        ports = {"A": free_port(), "B": free_port()}
        main, http = nginx_files(run)
        conf = render(run, ports, backends, dead, main, http)
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (run / d).mkdir()
        engines.append(start_engine(
            "nginx", [NGINX, "-p", str(run) + "/", "-c", str(conf),
                      "-g", "daemon off; pid %s/nginx.pid; error_log stderr;" % run], run, ports))

        run = tmp / "wssgate"
        ports = {"A": free_port(), "B": free_port()}
        conf = render(run, ports, backends, dead, "# nothing wssgate-specific\n",
                      "# nothing wssgate-specific\n")
        engines.append(start_engine("wssgate", [wssgate_bin(), "-c", str(conf)], run, ports,
                                    env=gateway_env(run / "home"), gateway=True))
        ng, gw = engines
        rows = [(case, observe(ng, case), observe(gw, case)) for case in CASES]
    finally:
        for e in reversed(engines):
            e.proc.stop()
            if e.proc.checked:
                problems += e.proc.problems()
        for b in backends.values():
            b.stop()
    assert not problems, "\n".join(problems)
    return rows


@pytest.fixture(scope="module")
def differential():
    """[(case, nginx result, wssgate result)] for every case, computed once for the module."""
    if not os.access(NGINX, os.X_OK):
        pytest.fail("nginx is not installed at %s: scripts/install-deps installs nginx-light"
                    % NGINX)
    if not os.access(wssgate_bin(), os.X_OK):
        pytest.fail("wssgate binary not found at %s (set WSSGATE_BIN or build it)" % wssgate_bin())
    tmp = Path(tempfile.mkdtemp(prefix="wssgate-diff-"))
    rows = None
    try:
        rows = run_both(tmp)
        yield rows
    finally:
        bad = rows is None or any(a != b and not c.xfail for c, a, b in rows)
        if bad and os.environ.get("WSSGATE_KEEP_TMP") == "1":
            sys.stderr.write("\nkept temp dir of the differential test: %s\n" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def test_differential_table(differential):
    """Every case, one table: fails on any disagreement not marked xfail (the per-case tests below
    say which ones those are)."""
    assert len(differential) >= 60
    bad = [(c, a, b) for c, a, b in differential if a != b and not c.xfail]
    agreed = sum(1 for _, a, b in differential if a == b)
    print("\ndifferential: %d requests, %d agree, %d known wssgate bugs (xfail)" % (
        len(differential), agreed, sum(1 for c, a, b in differential if c.xfail)))
    assert not bad, "%d of %d requests disagree with nginx:\n%s" % (len(bad), len(differential),
                                                                    table(bad))


@pytest.mark.parametrize("index", [
    pytest.param(i, id="%03d %s" % (i, c.id),
                 marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
    for i, c in enumerate(CASES)])
def test_same_as_nginx(differential, index):
    case, a, b = differential[index]
    assert case is CASES[index]
    assert a == b, "differs from nginx:\n" + table([(case, a, b)])
