"""Regression tests for the bugs a review found (repro scripts t1..t17; fixed in 421a797).

Each test pins the behaviour observed after the fix: status lines, what the backend received
byte for byte, and — for the busy-loop bugs — the gateway's CPU time from /proc/PID/stat while it
should be idle. Backends are either tests/backends/http_backend.py or a RawBackend (a thread of
this process on a free loopback port) when a test needs exact bytes or a misbehaving backend.
"""
import base64
import hashlib
import os
import signal
import socket
import struct
import threading
import time

from helpers import Closed, cpu_seconds, free_port, wait_until

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
IDLE_CPU = 0.3  # seconds of gateway CPU allowed while it should be waiting (a spin burns ~all of it)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def plain_gateway(proxy, to, *extra, path="/"):
    """`wssgate proxy --from http://127.0.0.1:P/ --to TO --workers 1 EXTRA...` (no TLS: the bugs are
    in HTTP handling; one worker so that CPU and descriptor counts concern one loop)."""
    return proxy(to, "--workers", "1", *extra, scheme="http", host="127.0.0.1", path=path)


def request_lines(received):
    """The first line of what each backend connection received."""
    return [r.split(b"\r\n", 1)[0] for r in received]


def idle_cpu(gw, seconds):
    """CPU seconds the gateway used during a `seconds` sleep."""
    c0 = cpu_seconds(gw.pid)
    time.sleep(seconds)
    return cpu_seconds(gw.pid) - c0


def rst_close(sock):
    """Close with SO_LINGER 0: the peer sees a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def answer_ok(backend, conn):
    """Backend handler: read one request (head and body), answer 200 "ok"."""
    head, body = conn.read_request(timeout=5)
    if head is not None:
        conn.send(OK)


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


def ws_frame(opcode, payload, mask=None):
    n = len(payload)
    b1 = 0x80 if mask else 0
    if n < 126:
        head = bytes([0x80 | opcode, b1 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, b1 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, b1 | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_parse(data):
    """([(opcode, unmasked payload)...], bytes left after the last complete frame)."""
    out, i = [], 0
    while i + 2 <= len(data):
        b1 = data[i + 1]
        n, j = b1 & 0x7F, i + 2
        if n == 126:
            if j + 2 > len(data):
                break
            n, j = struct.unpack("!H", data[j:j + 2])[0], j + 2
        elif n == 127:
            if j + 8 > len(data):
                break
            n, j = struct.unpack("!Q", data[j:j + 8])[0], j + 8
        mask = None
        if b1 & 0x80:
            if j + 4 > len(data):
                break
            mask, j = data[j:j + 4], j + 4
        if j + n > len(data):
            break
        p = data[j:j + n]
        if mask:
            p = bytes(b ^ mask[k % 4] for k, b in enumerate(p))
        out.append((data[i] & 0x0F, p))
        i = j + n
    return out, data[i:]


def ws_backend_101(conn):
    """Backend side of a WebSocket opening handshake; returns the request head (None if none)."""
    head = conn.read_until(b"\r\n\r\n", 5)
    if head is None:
        return None
    key = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
           if ln.lower().startswith(b"sec-websocket-key:")][0]
    conn.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: " + ws_accept(key) + b"\r\n\r\n")
    return head


WS_OPEN = (b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
MASK = b"\x01\x02\x03\x04"
CLOSE_1001 = b"\x03\xe9server shutting down"


# ---- t1: a second chunked request on a keep-alive connection -------------------------------------

def test_t1_second_chunked_request_on_keepalive_connection_is_forwarded_with_its_body(
        proxy, raw_backend):
    """req_ck_done from the first request stuck: the second chunked body was never read, the
    backend waited for it and the client got a 504 after the read timeout."""
    b = raw_backend(answer_ok)
    gw = plain_gateway(proxy, b.url, "--read-timeout", "3s")
    req = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    with gw.connect(tls=False, timeout=8) as c:
        c.send(req)
        r1 = c.read_response()
        assert (r1.status, r1.body) == (200, b"ok"), r1
        t = time.monotonic()
        c.send(req.replace(b"POST /a ", b"POST /b "))
        r2 = c.read_response()
        took = time.monotonic() - t
    assert (r2.status, r2.body) == (200, b"ok"), r2
    assert took < 1.0, "second response took %.1f s" % took
    assert wait_until(lambda: len(b.conns) == 2 and all(x.endswith(b"0\r\n\r\n") for x in b.received()), 3)
    first, second = b.received()
    # byte for byte: the same request but for the path, the chunked body relayed as it was sent
    head, sep, body = first.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /a HTTP/1.1\r\n") and b"\r\ntransfer-encoding: chunked" in head.lower()
    assert body == b"5\r\nhello\r\n0\r\n\r\n", first
    assert second == first.replace(b"POST /a ", b"POST /b ", 1), (first, second)


def test_t1b_body_of_second_chunked_request_cannot_smuggle_a_request(proxy, raw_backend):
    """With the stale chunked state, the second request's "body" was parsed as the next request:
    GET /smuggled reached the backend and its response went to the client."""
    def handler(backend, conn):
        head = conn.read_until(b"\r\n\r\n", 3)
        if head is None:
            return
        if head.startswith(b"POST /early "):  # answers at once (an auth check, a redirect...)
            conn.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\nno")
            conn.read_all(1.0)  # records whatever else the gateway sends on this connection
            return
        if b"\r\ntransfer-encoding: chunked" in head.lower():
            conn.read_until(b"0\r\n\r\n", 3)
        conn.send(OK)

    b = raw_backend(handler)
    gw = plain_gateway(proxy, b.url)
    statuses, eof = [], False
    with gw.connect(tls=False, timeout=3) as c:
        c.send(b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ok"), r
        c.send(b"POST /early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"GET /smuggled HTTP/1.1\r\nHost: internal\r\n\r\n")
        try:
            while len(statuses) < 3:
                r = c.read_response()
                statuses.append((r.status, r.header("Connection")))
        except Closed:
            eof = True
        except TimeoutError:
            pass
    # "GET /smuggled..." is not chunked framing: 400 and the connection is closed
    assert statuses == [(400, "close")] and eof, (statuses, eof)
    time.sleep(0.3)
    assert request_lines(b.received()) == [b"POST /first HTTP/1.1", b"POST /early HTTP/1.1"]
    assert not any(b"smuggled" in x for x in b.received()), b.received()


# ---- t2: Expect: 100-continue ------------------------------------------------------------------

def test_t2_100_continue_is_sent_before_the_body_without_spinning(proxy, raw_backend):
    """The interim response sat in the output buffer (and the loop spun) until the read timeout."""
    b = raw_backend(answer_ok)
    gw = plain_gateway(proxy, b.url, "--read-timeout", "4s")
    with gw.connect(tls=False, timeout=2) as c:
        cpu0, t = cpu_seconds(gw.pid), time.monotonic()
        c.send(b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_until(b"\r\n\r\n")
        took = time.monotonic() - t
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
        assert took < 1.0, "100 Continue after %.1f s" % took
        time.sleep(0.5)  # the gateway waits for the body: idle
        cpu = cpu_seconds(gw.pid) - cpu0
        assert c.buf == b""
        c.send(b"hello")
        r = c.read_response()
    assert cpu < IDLE_CPU, "gateway used %.2f s of CPU waiting for the body" % cpu
    assert (r.status, r.body) == (200, b"ok"), r
    (got,) = b.received()
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /u HTTP/1.1\r\n") and b"\r\ncontent-length: 5" in head.lower()
    assert b"expect:" not in head.lower(), head  # the gateway answered the expectation itself
    assert body == b"hello"


# ---- t3: Connection: Content-Length from a backend -----------------------------------------------

def test_t3_backend_connection_content_length_keeps_the_framing(proxy, raw_backend):
    """A backend's "Connection: Content-Length" made the gateway drop Content-Length from a
    keep-alive response: the client could not tell where the first response ended."""
    def handler(backend, conn):
        head, _ = conn.read_request(timeout=3)
        if head is None:
            return
        if head.startswith(b"GET /1 "):
            conn.send(b"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nfirst")
        else:
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")

    b = raw_backend(handler)
    gw = plain_gateway(proxy, b.url)
    want = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
    with gw.connect(tls=False, timeout=0.5) as c:
        c.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        end = time.monotonic() + 3
        while len(c.buf) < len(want) + 1 and time.monotonic() < end:  # +1: nothing may follow
            try:
                if not c.fill():
                    break
            except TimeoutError:
                if len(c.buf) >= len(want):
                    break
    assert c.buf == want


# ---- t4: long URL on the HTTP -> HTTPS redirect ----------------------------------------------

def test_t4_https_redirect_of_a_long_url_keeps_the_whole_url(start_gateway):
    """The Location header was built in a 2,300-byte stack buffer (target cut at 2,048) and a
    1,024-byte head buffer: from ~900 bytes of URL the connection was closed without a response."""
    https, http, backend = free_port(), free_port(), free_port()
    gw = start_gateway(["demo", "--host", "localhost", "--https-port", https, "--http-port", http,
                        "--backend-port", backend, "--workers", "1"], "localhost", [https, http])
    for n in (1200, 8000):
        target = "/cb?code=" + "a" * n
        with gw.connect(tls=False, port=http, timeout=3) as c:
            c.send(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % target).encode())
            r = c.read_response()
        assert (r.version, r.status, r.reason) == ("HTTP/1.1", 301, "Moved Permanently"), (n, r)
        assert r.header("Location") == "https://localhost:%d%s" % (https, target), n


# ---- t6b: RST from a pipelining TLS client that does not read ------------------------------

def test_t6b_reset_by_a_pipelining_tls_client_does_not_spin(start_gateway):
    """6,000 pipelined GETs from a client with a 4 KB receive buffer, then an RST: the gateway
    kept busy-looping (~50% of a CPU) on the dead connection."""
    https, http, backend = free_port(), free_port(), free_port()
    gw = start_gateway(["demo", "--host", "localhost", "--https-port", https, "--http-port", http,
                        "--backend-port", backend, "--workers", "1"], "localhost", [https, http])
    family, _, _, _, addr = socket.getaddrinfo("localhost", https, type=socket.SOCK_STREAM)[0]
    raw = socket.socket(family, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(addr)
    s = gw.ssl_context().wrap_socket(raw, server_hostname="localhost")
    s.settimeout(5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" * 6000)
    except (socket.timeout, OSError):
        pass  # the gateway stopped reading: enough is in flight
    time.sleep(1.0)
    rst_close(s)
    cpu = idle_cpu(gw, 2.0)
    assert cpu < IDLE_CPU, "gateway used %.2f s of CPU in the 2 s after the client's RST" % cpu
    with gw.connect(timeout=5) as c:  # and it still serves
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert c.read_response().status == 200


# ---- t7: slowloris ----------------------------------------------------------------------------

def test_t7_head_timeout_is_not_extended_by_a_byte_at_a_time(proxy, raw_backend):
    """Every byte re-armed the head timer: one byte per 1.5 s kept a connection open for ever."""
    b = raw_backend(answer_ok)
    gw = plain_gateway(proxy, b.url, "--header-timeout", "1s")
    head = b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100
    got, sent = b"", 0
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(0.05)
        t0 = time.monotonic()
        deadline = t0 + 1.0 + 1.0  # header_timeout + 1 s
        while time.monotonic() < deadline and not got:
            try:
                s.send(head[sent:sent + 1])
                sent += 1
            except OSError:
                pass
            end = time.monotonic() + 0.25  # a byte every 0.25 s
            while time.monotonic() < end and not got:
                try:
                    got = s.recv(4096) or b"EOF"
                except socket.timeout:
                    pass
        took = time.monotonic() - t0
        assert got and got != b"EOF", "no response within header_timeout + 1 s (%d bytes sent, %r)" % (
            sent, got)
        s.settimeout(2)
        while True:  # the rest, until the gateway closes
            more = s.recv(4096)
            if not more:
                break
            got += more
    assert 0.9 <= took <= 2.0, took
    status_line = got.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.0 408 Request Timeout", got[:300]
    assert b"\r\nConnection: close\r\n" in got
    assert b.conns == []  # nothing reached the backend


# ---- t9: a slow but steady upload ---------------------------------------------------------------

def test_t9_steady_upload_longer_than_read_timeout_is_not_cut_off(proxy, raw_backend):
    """The backend read timeout ran from the moment the head was sent: an upload making steady
    progress for longer than --read-timeout got a 504."""
    def handler(backend, conn):
        head, body = conn.read_request(timeout=8)
        backend.bodies.append(body)
        conn.send(OK)

    b = raw_backend(handler)
    b.bodies = []
    gw = plain_gateway(proxy, b.url, "--read-timeout", "1s")
    body = os.urandom(20000)
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n")
        t = time.monotonic()
        try:
            for i in range(0, len(body), 2500):  # 8 pieces, 0.3 s apart: 2.4 s > read timeout
                time.sleep(0.3)
                c.send(body[i:i + 2500])
        except OSError:
            pass
        took = time.monotonic() - t
        r = c.read_response()
    assert took >= 2.0
    assert (r.status, r.body) == (200, b"ok"), r
    assert b.bodies == [body]


# ---- t10: client RST while the backend thinks ----------------------------------------------

def test_t10_client_reset_while_backend_is_thinking_does_not_spin(proxy, raw_backend):
    """An fd with no interest stayed in epoll with an empty event set: EPOLLERR/EPOLLHUP of the
    reset client woke the loop for ever."""
    release = threading.Event()

    def handler(backend, conn):
        if conn.read_request(timeout=5)[0] is None:
            return
        while not (release.is_set() or backend.stopping.is_set()):
            time.sleep(0.05)
        conn.send(OK)

    b = raw_backend(handler)
    gw = plain_gateway(proxy, b.url)
    s = socket.create_connection(("127.0.0.1", gw.port))
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_until(lambda: b.received() and b.received()[0].endswith(b"\r\n\r\n"), 3)
    time.sleep(0.2)
    rst_close(s)
    try:
        cpu = idle_cpu(gw, 2.0)
    finally:
        release.set()
    assert cpu < IDLE_CPU, "gateway used %.2f s of CPU in the 2 s after the client's RST" % cpu
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    assert (r.status, r.body) == (200, b"ok"), r


# ---- t15: header names with '_' ------------------------------------------------------------------

def test_t15_underscored_headers_cannot_spoof_the_gateways_headers(proxy, http_backend):
    """X_Real_IP etc. were forwarded next to the gateway's X-Real-IP; CGI-style backends fold both
    onto HTTP_X_REAL_IP, so a client could choose its own address."""
    be = http_backend()
    gw = plain_gateway(proxy, be.url)
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b"GET /echo-headers HTTP/1.1\r\nHost: x\r\nX_Real_IP: 6.6.6.6\r\n"
               b"X_Forwarded_For: 6.6.6.6\r\nX_Forwarded_Proto: https\r\nX-Custom-Header: kept\r\n\r\n")
        r = c.read_response()
    assert r.status == 200, r
    info = r.json()
    names = [n for n, _ in info["headers"]]
    assert not [n for n in names if "_" in n], names
    hs = {}
    for n, v in info["headers"]:
        hs.setdefault(n.lower(), []).append(v)
    peer_ip = info["peer"].rsplit(":", 1)[0]
    assert peer_ip == "127.0.0.1"
    assert hs["x-real-ip"] == [peer_ip], hs
    assert hs["x-forwarded-for"] == [peer_ip], hs
    assert hs["x-forwarded-proto"] == ["http"], hs
    assert hs["x-custom-header"] == ["kept"], hs
    assert "6.6.6.6" not in str(be.requests())


def test_t15_access_log_request_line_is_escaped(proxy, raw_backend):
    """The request line went into the quoted access-log field as is: '"' in a target forged
    fields of the log line."""
    b = raw_backend(answer_ok)
    gw = plain_gateway(proxy, b.url)
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b'GET /log?a="b"\\c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        assert c.read_response().status == 200
    assert gw.stop() == 0
    lines = [ln for ln in gw.stdout().splitlines() if "/log?a=" in ln]
    assert len(lines) == 1, gw.stdout()
    assert '"GET /log?a=\\x22b\\x22\\x5Cc HTTP/1.1" 200 ' in lines[0], lines[0]
    assert lines[0].count('"') == 2, lines[0]
    assert request_lines(b.received()) == [b'GET /log?a="b"\\c HTTP/1.1']  # forwarded unchanged


# ---- t16: out of descriptors -----------------------------------------------------------------

def test_t16_out_of_descriptors_pauses_accepting_and_warns_once(start_gateway_under, raw_backend):
    """On EMFILE the level-triggered listener woke the loop for ever: 100% CPU and the warning
    written hundreds of thousands of times a second."""
    b = raw_backend(answer_ok)
    port = free_port()
    gw = start_gateway_under(["prlimit", "--nofile=48:48"],
                             ["proxy", "--from", "http://127.0.0.1:%d" % port, "--to", b.url,
                              "--workers", "1"], "127.0.0.1", [port])
    socks = []
    try:
        for _ in range(60):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        time.sleep(0.3)
        cpu = idle_cpu(gw, 2.0)
    finally:
        for s in socks:
            s.close()
    assert cpu < IDLE_CPU, "gateway used %.2f s of CPU in 2 s at the descriptor limit" % cpu
    warnings = [ln for ln in gw.stderr().splitlines() if "cannot accept" in ln]
    assert len(warnings) == 1, (len(warnings), warnings[:3])
    assert "Too many open files" in warnings[0] and "[warn]" in warnings[0], warnings[0]
    # descriptors are back: it accepts again
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b"GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
    assert (r.status, r.body) == (200, b"ok"), r


# ---- t17: dot segments and prefix replacement --------------------------------------------------

def test_t17_dot_segments_cannot_leave_the_target_path(proxy, http_backend):
    """The raw path was matched against /x/ and its prefix replaced by /app/: /x/../secret went to
    the backend as /app/../secret, i.e. /secret."""
    be = http_backend()
    gw = plain_gateway(proxy, be.url + "/app/", path="/x/")
    cases = [("/x/../secret", 404), ("/x/%2e%2e/secret", 404), ("/x/%2E%2E%2fsecret", 404),
             ("/x/a/../../secret", 404), ("/../admin", 400), ("/x/%2e%2e/%2e%2e/etc/passwd", 400),
             ("/x/a/../b", 200), ("/y/..%2fx/", 200), ("/x/./c//d?q=1", 200)]
    got = []
    for target, _ in cases:
        with gw.connect(tls=False, timeout=5) as c:
            c.send(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
            got.append((target, c.read_response().status))
    assert got == cases
    targets = [r["target"] for r in be.requests()]
    assert targets == ["/app/b", "/app/", "/app/c/d?q=1"], targets


# ---- t11: graceful stop with a frame in flight ---------------------------------------------

def test_t11_drain_lets_a_frame_in_flight_finish_then_closes_both_sides(proxy, raw_backend):
    """SIGTERM with --drain-timeout 1s while half a frame is in flight: the frame is completed past
    the deadline (within the grace), then both sides get close 1001 and the gateway exits 0."""
    def handler(backend, conn):
        ws_backend_101(conn)
        frames = []
        buf, conn.buf = conn.buf, b""
        while True:
            got, buf = ws_parse(buf)
            for op, p in got:
                frames.append((op, p))
                try:
                    if op == 1:
                        conn.send(ws_frame(1, b"echo:" + p))
                    elif op == 8:
                        conn.send(ws_frame(8, p[:2]))
                except OSError:
                    pass
            if not conn.fill(8):
                break
            buf, conn.buf = buf + conn.buf, b""
        frames.append("EOF" if conn.eof else "timeout")
        backend.frames = frames

    b = raw_backend(handler)
    gw = plain_gateway(proxy, b.url.replace("http:", "ws:"), "--drain-timeout", "1s")
    big = ws_frame(1, b"A" * 1000, MASK)
    with gw.connect(tls=False, timeout=4) as c:
        c.send(WS_OPEN)
        assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
        c.send(ws_frame(1, b"hello", MASK))
        time.sleep(0.2)
        c.send(big[:300])  # half a frame in flight at the deadline
        time.sleep(0.1)
        gw.signal(signal.SIGTERM)
        time.sleep(1.4)  # past the 1 s drain deadline, within the 1 s grace
        c.send(big[300:])
        rest = c.read_all()
    frames, left = ws_parse(rest)
    assert frames == [(1, b"echo:hello"), (8, CLOSE_1001)] and left == b"", (frames, left)
    assert gw.wait_exit(8) == 0
    assert wait_until(lambda: hasattr(b, "frames"), 3)
    assert b.frames == [(1, b"hello"), (1, b"A" * 1000), (8, CLOSE_1001), "EOF"], b.frames


# ---- t12: WebSocket half-close --------------------------------------------------------------------

def test_t12_half_closed_tunnel_relays_everything_then_closes(proxy, raw_backend):
    """The client sends a frame and shuts down its side; the backend sees exactly that frame and
    EOF, then sends 1.5 MB and closes: the client gets all of it, then EOF."""
    frame = ws_frame(2, os.urandom(50000), MASK)
    payloads = [bytes([i]) * 30000 for i in range(50)]

    def handler(backend, conn):
        ws_backend_101(conn)
        backend.before_eof = conn.read_all(5)
        backend.got_eof = conn.eof
        for p in payloads:
            conn.send(ws_frame(2, p))
        conn.sock.shutdown(socket.SHUT_WR)
        backend.after = conn.read_all(3)
        backend.eof_after = conn.eof

    b = raw_backend(handler)
    gw = plain_gateway(proxy, b.url.replace("http:", "ws:"))
    with gw.connect(tls=False, timeout=6) as c:
        c.send(WS_OPEN)
        assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
        c.send(frame)
        c.shutdown_write()
        got = c.read_all()
        assert c.eof
    frames, left = ws_parse(got)
    assert [op for op, _ in frames] == [2] * 50 and left == b""
    assert [p for _, p in frames] == payloads
    assert wait_until(lambda: hasattr(b, "eof_after"), 5)
    assert b.got_eof and b.before_eof == frame  # byte for byte, then EOF
    assert b.after == b"" and b.eof_after


# ---- t13: edge-triggered tunnels miss no FIN ----------------------------------------------------

def test_t13_frame_and_fin_in_one_arrival_reach_the_other_side(proxy, raw_backend):
    """Once the first message went through, the tunnel's sockets are watched edge-triggered. A
    frame and the FIN behind it, arriving together, raise one edge; the read that takes the frame
    is short, but the EOF is still queued behind it. A gateway that took the short read for "the
    socket is empty" never saw the EOF, and the tunnel hung (found while making it: one wsload
    connection in four closed uncleanly). Both directions, small frames, several times each."""
    rounds = 5

    def handler(backend, conn):
        ws_backend_101(conn)
        first = conn.read_exact(len(ws_frame(2, b"ping-1", MASK)), 5)
        conn.send(ws_frame(2, b"pong-1"))
        rest = conn.read_all(5)  # the second frame, then EOF
        backend.got.append((first, rest, conn.eof))
        conn.send(ws_frame(2, b"bye"))
        conn.sock.shutdown(socket.SHUT_WR)  # frame and FIN back to back

    b = raw_backend(handler)
    b.got = []
    gw = plain_gateway(proxy, b.url.replace("http:", "ws:"))
    for i in range(rounds):
        with gw.connect(tls=False, timeout=5) as c:
            c.send(WS_OPEN)
            assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
            c.send(ws_frame(2, b"ping-1", MASK))
            assert c.read_exact(len(ws_frame(2, b"pong-1"))) == ws_frame(2, b"pong-1")
            c.sock.sendall(ws_frame(2, b"ping-2", MASK))
            c.shutdown_write()  # right behind the frame
            got = c.read_all()
            assert got == ws_frame(2, b"bye") and c.eof, (i, got)
    assert wait_until(lambda: len(b.got) == rounds, 5)
    for first, rest, eof in b.got:
        assert first == ws_frame(2, b"ping-1", MASK)
        assert rest == ws_frame(2, b"ping-2", MASK) and eof


# ---- t8: one fast transfer does not starve the other connections ---------------------------

def test_t8_fast_transfer_does_not_starve_small_requests(proxy, raw_backend):
    """A connection that always had work re-queued itself in the deferred phase, which ran until
    it was empty: the loop stopped polling and other connections waited."""
    stop = threading.Event()

    def handler(backend, conn):
        head, _ = conn.read_request(timeout=5)
        if head is None:
            return
        if not head.startswith(b"GET /big "):
            conn.send(OK)
            return
        chunk = b"z" * (4 << 20)
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 40))
        while not (stop.is_set() or backend.stopping.is_set()):
            conn.send(chunk)

    b = raw_backend(handler)
    gw = plain_gateway(proxy, b.url)
    received = [0]

    def big():
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            buf = bytearray(4 << 20)
            while not stop.is_set():
                n = s.recv_into(buf)
                if not n:
                    break
                received[0] += n

    th = threading.Thread(target=big, daemon=True)
    th.start()
    lat = []
    try:
        assert wait_until(lambda: received[0] > (50 << 20), 10), "big transfer did not start"
        for i in range(30):
            t = time.monotonic()
            with gw.connect(tls=False, timeout=5) as c:
                c.send(b"GET /s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                r = c.read_response()
            lat.append(time.monotonic() - t)
            assert (r.status, r.body) == (200, b"ok"), r
            time.sleep(0.01)
        still_flowing = received[0]
        time.sleep(0.1)
        still_flowing = received[0] > still_flowing
    finally:
        stop.set()
        th.join(5)
    lat.sort()
    assert still_flowing, "the big transfer stopped during the probes"
    # Generous bounds (2 CPUs shared by this test, the backend thread and the gateway): a starved
    # loop answers in seconds, not in the ~5 ms measured here.
    assert lat[len(lat) // 2] < 0.05 and lat[-1] < 1.0, ["%.1f ms" % (x * 1000) for x in lat]
