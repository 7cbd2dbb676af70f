"""Helpers of wssgate's integration tests: processes on free ports, raw HTTP/1.1 and WebSocket
over TLS or plain TCP, and the backends' event logs. No test logic here; fixtures are in conftest.py.
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BACKENDS = REPO / "tests" / "backends"
# Debian's python: the one that sees python3-websockets (a pyenv python on PATH may not).
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NODE = shutil.which("node") or "/usr/bin/node"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

sys.path.insert(0, str(BACKENDS))
from http_backend import CHUNKED_BODY, pattern  # noqa: E402,F401  (re-exported for the tests)


def wssgate_bin():
    # absolute: processes run with their work dir as cwd, so WSSGATE_BIN=build-asan/wssgate
    # (relative to where pytest was started) must be resolved here
    return os.path.abspath(os.environ.get("WSSGATE_BIN") or str(REPO / "build" / "wssgate"))


_ports_given = set()


def free_port():
    """A port the kernel had free a moment ago (bind port 0, read it, close), never one this
    run handed out before: the kernel may offer a just-closed port again, and a test that asked
    for three ports once got the same one twice."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no fresh free port after 100 tries")


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


class Proc:
    """A process this test started: output to files in the work dir, stopped by its PID only."""

    def __init__(self, name, argv, work, env=None, checked=False):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stdout_path = work / ("%s.stdout" % name)
        self.stderr_path = work / ("%s.stderr" % name)
        self.checked = checked  # a gateway: exit 0 and no sanitizer report are asserted
        self.returncode = None
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          env=env, cwd=str(work))
        self.pid = self.popen.pid

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def alive(self):
        return self.popen.poll() is None

    def wait_ports(self, host, ports, timeout=10.0):
        """Wait until every port accepts TCP; fail with the process's stderr if it exits first."""
        end = time.monotonic() + timeout
        for port in ports:
            while not port_open(host, port):
                if not self.alive():
                    raise AssertionError("%s exited with status %s before %s:%d accepted connections\n"
                                         "argv: %s\n--- stderr ---\n%s" % (
                                             self.name, self.popen.returncode, host, port,
                                             " ".join(self.argv), self.stderr()[-6000:]))
                if time.monotonic() > end:
                    raise AssertionError("%s: %s:%d not accepting within %.0f s\n--- stderr ---\n%s" % (
                        self.name, host, port, timeout, self.stderr()[-6000:]))
                time.sleep(0.05)

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """Wait for the process to end by itself; returns its exit status or None if still running."""
        try:
            self.returncode = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=15.0):
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status (negative: signal)."""
        if self.returncode is not None:
            return self.returncode
        self.signal(signal.SIGTERM)
        try:
            self.returncode = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            self.returncode = "did not exit within %.0f s of SIGTERM (killed)" % timeout
        return self.returncode

    def problems(self):
        """After stop(): what is wrong with how a checked process ended ([] when nothing)."""
        out = []
        if self.returncode != 0:
            out.append("%s (pid %d) exit status: %s" % (self.name, self.pid, self.returncode))
        text = self.stderr() + self.stdout()
        for mark in SANITIZER_MARKS:
            if mark in text:
                i = text.index(mark)
                out.append("%s output has %r:\n%s" % (self.name, mark, text[max(0, i - 200):i + 3000]))
        return out


class Gateway(Proc):
    def __init__(self, name, argv, work, home, host, ports, env):
        super().__init__(name, argv, work, env=env, checked=True)
        self.home = home
        self.host = host
        self.ports = ports
        self.port = ports[0]

    @property
    def ca(self):
        return str(self.home / "ca.pem")

    def ssl_context(self, **kw):
        ctx = ssl.create_default_context(cafile=self.ca)
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx

    def connect(self, tls=True, port=None, timeout=10.0, ctx=None):
        return RawConn(self.host, port or self.port, (ctx or self.ssl_context()) if tls else None,
                       timeout=timeout)

    def url(self, path="/", scheme="https", port=None):
        return "%s://%s:%d%s" % (scheme, self.host, port or self.port, path)


class Backend(Proc):
    def __init__(self, name, argv, work, port, log):
        super().__init__(name, argv, work)
        self.port = port
        self.log = log
        self.wait_ports("127.0.0.1", [port], timeout=15)

    def events(self, ev=None):
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            if line.strip():
                e = json.loads(line)
                if ev is None or e["ev"] == ev:
                    out.append(e)
        return out

    def requests(self):
        return self.events("request")

    def bytes_received(self):
        return sum(e["n"] for e in self.events("data"))


# ---------------------------------------------------------------------------------------------
# Raw HTTP/1.1 over TLS or TCP

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason, self.headers, self.body = version, status, reason, headers, body

    def header(self, name):
        vals = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(vals) if vals else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %s %s %r body=%r>" % (self.status, self.reason, self.headers, self.body[:300])


class Closed(Exception):
    """The peer closed (or reset) the connection before what was expected arrived."""


class BadResponse(AssertionError):
    """What came back is not an HTTP/1.x response."""


class RawConn:
    """One client connection; reads are buffered so that responses and frames can be parsed."""

    def __init__(self, host, port, ctx=None, timeout=10.0, server_hostname=None):
        sock = socket.create_connection((host, port), timeout=timeout)
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_hostname=server_hostname or host)
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.eof_how = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self):
        return self.sock.recv(262144)

    def fill(self):
        """Read more; returns False at EOF (a reset or a TLS EOF without close_notify counts)."""
        if self.eof:
            return False
        try:
            data = self._recv()
        except socket.timeout:
            raise TimeoutError("timed out waiting for the peer; received so far: %r" % self.buf[:600])
        except (ConnectionResetError, BrokenPipeError) as e:
            data, self.eof_how = b"", repr(e)
        except ssl.SSLError as e:  # e.g. EOF without close_notify
            data, self.eof_how = b"", repr(e)
        if not data:
            self.eof = True
            self.eof_how = self.eof_how or "eof"
            return False
        self.buf += data
        return True

    def read_until(self, sep):
        while sep not in self.buf:
            if not self.fill():
                raise Closed("connection closed before %r; got %r" % (sep, self.buf[:500]))
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self.fill():
                raise Closed("connection closed with %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_all(self):
        """Everything until EOF (bounded by the socket timeout)."""
        while self.fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, head_only=False, method="GET"):
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise BadResponse("not an HTTP/1.x response: %r" % head[:600])
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            n, _, v = line.decode("latin-1").partition(":")
            headers.append((n, v.strip()))
        r = Response(version, status, reason, headers, b"")
        if head_only or status < 200 or status in (204, 304) or method == "HEAD":
            return r
        te = r.header("Transfer-Encoding")
        cl = r.header("Content-Length")
        if te and "chunked" in te.lower():
            body = b""
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body += self.read_exact(size)
                self.read_exact(2)
            r.body = body
        elif cl is not None:
            r.body = self.read_exact(int(cl))
        else:
            r.body = self.read_all()
        return r

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)


def request(gw, raw, tls=True, timeout=10.0, method="GET"):
    """Send raw request bytes on a new connection and read one response."""
    with gw.connect(tls=tls, timeout=timeout) as c:
        c.send(raw)
        return c.read_response(method=method)


def simple_get(path, host, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, extra)).encode("latin-1")


class BioTLSConn(RawConn):
    """TLS driven by hand over memory BIOs, so that the test can send close_notify and a TCP FIN
    (a TLS half-close) and go on reading the peer's data."""

    def __init__(self, host, port, ctx, timeout=10.0):
        self.raw = socket.create_connection((host, port), timeout=timeout)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=host)
        self.buf = b""
        self.eof = False
        self.eof_how = None
        self._io(self.obj.do_handshake)
        self.sock = self  # RawConn.close() / send() go through this class's methods

    def _flush(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def _io(self, op, *args):
        while True:
            try:
                r = op(*args)
                self._flush()
                return r
            except ssl.SSLWantReadError:
                self._flush()
                data = self.raw.recv(262144)
                if not data:
                    self.inc.write_eof()
                    raise Closed("TCP EOF during TLS")
                self.inc.write(data)

    def sendall(self, data):
        self._io(self.obj.write, data)

    def _recv(self):
        try:
            return self._io(self.obj.read, 262144)
        except (ssl.SSLZeroReturnError, Closed):
            return b""

    def close_notify_and_fin(self):
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush()
        self.raw.shutdown(socket.SHUT_WR)

    def close(self):
        self.raw.close()


# ---------------------------------------------------------------------------------------------
# WebSocket by hand (for tests that need the raw connection underneath)

def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_upgrade_request(path, host, key=None, version="13", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %s\r\n%s\r\n" % (
                path, host, key or ws_key(), version, extra)).encode("latin-1")


def ws_frame(opcode, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def ws_read_frame(conn):
    """(fin, opcode, payload) of the next frame on a RawConn."""
    b0, b1 = conn.read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", conn.read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", conn.read_exact(8))[0]
    key = conn.read_exact(4) if b1 & 0x80 else None
    payload = conn.read_exact(n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bool(b0 & 0x80), b0 & 0x0F, payload


# ---------------------------------------------------------------------------------------------
# asyncio and external clients

def run(coro, timeout=60.0):
    """Run a coroutine to completion, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def openssl(args, input=b"", timeout=20.0):
    """Run the openssl command line tool; returns (exit status, stdout+stderr as text)."""
    p = subprocess.run(["openssl"] + args, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# In-test raw-socket backends and the gateway's CPU time (for the regression tests)

def cpu_seconds(pid):
    """User + system CPU time (seconds) a process has used so far, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendConn:
    """One connection accepted by a RawBackend. `received` is every byte that arrived on it, in
    order (what the gateway sent, byte for byte); reads consume from `buf`."""

    def __init__(self, sock, stopping):
        self.sock = sock
        self.stopping = stopping
        self.received = b""
        self.buf = b""
        self.eof = False

    def fill(self, timeout):
        """Waits up to timeout for more bytes; False at EOF, on a reset, at timeout or at stop."""
        if self.eof:
            return False
        end = time.monotonic() + timeout
        while not self.stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(min(left, 0.2))
            try:
                data = self.sock.recv(262144)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            if not data:
                self.eof = True
                return False
            self.received += data
            self.buf += data
            return True
        return False

    def read_until(self, sep, timeout=5.0):
        """Bytes up to and including sep (None if it did not come in time)."""
        end = time.monotonic() + timeout
        while sep not in self.buf:
            if not self.fill(end - time.monotonic()):
                return None
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=5.0):
        end = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self.fill(end - time.monotonic()):
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_request(self, timeout=5.0):
        """(head without the blank line, body) of the next request, the body de-chunked or
        Content-Length framed; (None, None) when no complete head came."""
        head = self.read_until(b"\r\n\r\n", timeout)
        if head is None:
            return None, None
        head = head[:-4]
        lower = head.lower()
        body = b""
        if b"\r\ntransfer-encoding: chunked" in lower:
            while True:
                line = self.read_until(b"\r\n", timeout)
                if line is None:
                    return head, None
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n", timeout) not in (b"\r\n", None):
                        pass
                    break
                body += self.read_exact(size, timeout) or b""
                self.read_exact(2, timeout)
        elif b"\r\ncontent-length:" in lower:
            n = int(lower.split(b"\r\ncontent-length:")[1].split(b"\r\n")[0])
            body = self.read_exact(n, timeout)
        return head, body

    def read_all(self, timeout):
        """Everything until EOF or timeout."""
        end = time.monotonic() + timeout
        while self.fill(end - time.monotonic()):
            pass
        out, self.buf = self.buf, b""
        return out

    def send(self, data):
        self.sock.sendall(data)


class RawBackend:
    """A backend in a thread of the test process, on a free loopback port: handler(backend, conn)
    runs per accepted connection (in its own thread) with a BackendConn; the socket is closed when
    it returns. `conns` lists the connections in accept order. stop() (teardown) closes
    everything; handlers that wait should wait on `stopping` so that they end at once."""

    checked = False  # not a process: nothing to assert about its exit

    def __init__(self, handler, name="raw_backend"):
        self.name = name
        self.handler = handler
        self.stopping = threading.Event()
        self.conns = []
        self.errors = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn = BackendConn(s, self.stopping)
            self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        try:
            self.handler(self, conn)
        except OSError:
            pass  # the gateway went away: what was received is still recorded
        except Exception as e:  # a bug in the test's handler: make it visible
            self.errors.append(repr(e))
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def received(self):
        """The bytes received on each connection, in accept order."""
        return [c.received for c in self.conns]

    def stop(self, timeout=5.0):
        self.stopping.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        end = time.monotonic() + timeout
        for t in list(self.threads):
            t.join(max(0.0, end - time.monotonic()))
        return 0


# ---------------------------------------------------------------------------------------------
# nginx-dialect configurations (test_config_*.py): templates, local certificates, `wssgate -t`

CONF_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "config"


def render_conf(template, dest, **values):
    """Writes dest: the template (a path or the text itself) with every {{NAME}} replaced by
    values[NAME]. A placeholder without a value is an error (nothing is left half-rendered)."""
    text = template.read_text() if isinstance(template, Path) else template
    for k, v in values.items():
        text = text.replace("{{%s}}" % k, str(v))
    if "{{" in text:
        raise AssertionError("placeholder without a value in %s: %s" % (
            template, text[text.index("{{"):text.index("{{") + 40]))
    tmp = Path(str(dest) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, dest)  # a reloading gateway never reads a half-written file
    return Path(dest)


def host_cert(home, name):
    """(certificate, key) paths for NAME, issued by the local CA in home (created on first use),
    the way quick mode makes them: DIR/hosts/NAME.pem and NAME-key.pem."""
    home = Path(home)
    cert, key = home / "hosts" / ("%s.pem" % name), home / "hosts" / ("%s-key.pem" % name)
    if not cert.exists():
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, WSSGATE_HOME=str(home))
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        p = subprocess.run([wssgate_bin(), "proxy", "--from", "https://%s:1" % name, "--to",
                            "ws://127.0.0.1:1", "--print-config"], env=env, timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert cert.exists() and key.exists(), "no certificate for %s: %s" % (
            name, p.stderr.decode(errors="replace"))
    return str(cert), str(key)


def conf_test(conf, cwd=None, timeout=30, args=("-t",), asan_options=None):
    """`wssgate -t -c CONF` (nothing started) -> (exit status, stderr text). A sanitizer report
    fails the test."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    if asan_options:
        env["ASAN_OPTIONS"] = asan_options
    p = subprocess.run([wssgate_bin()] + list(args) + ["-c", str(conf)], cwd=str(cwd) if cwd else None,
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return p.returncode, err


def conf_messages(stderr, conf):
    """[(line, is_warning, text)] of the `wssgate: CONF:LINE: [warning: ]TEXT` lines about CONF
    (as named on the command line or an included file's name when conf is None)."""
    out = []
    for ln in stderr.splitlines():
        if not ln.startswith("wssgate: "):
            continue
        rest = ln[len("wssgate: "):]
        if conf is not None:
            prefix = "%s:" % conf
            if not rest.startswith(prefix):
                continue
            rest = rest[len(prefix):]
        else:
            rest = rest.split(":", 1)[1] if ":" in rest else ""
        num, _, text = rest.partition(": ")
        if not num.isdigit():
            continue
        warn = text.startswith("warning: ")
        out.append((int(num), warn, text[len("warning: "):] if warn else text))
    return out


def is_sanitized_binary(path=None):
    """Whether the wssgate binary is the ASan build (leak and use-after-free checks mean
    something only there); False when there is no binary yet."""
    try:
        with open(path or wssgate_bin(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
