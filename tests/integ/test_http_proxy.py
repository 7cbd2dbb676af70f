"""HTTP/1.1 proxying: bodies both ways, keep-alive, pipelining, the headers a proxy must fix."""
import os
import socket

from helpers import CHUNKED_BODY, pattern, simple_get


def hdrs(info):
    """Backend /echo-headers JSON -> {lower name: [values]}"""
    out = {}
    for n, v in info["headers"]:
        out.setdefault(n.lower(), []).append(v)
    return out


def test_get_content_length_body(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        c.send(simple_get("/big?n=300000", "localhost:%d" % gw.port))
        r = c.read_response()
    assert r.status == 200, r
    assert r.body == pattern(300000)


def test_get_chunked_response(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        c.send(simple_get("/chunked", "localhost"))
        r = c.read_response()
    assert r.status == 200, r
    assert r.body == CHUNKED_BODY


def test_post_content_length(gw_http):
    gw = gw_http()
    body = os.urandom(200000)
    with gw.connect() as c:
        c.send(b"POST /body HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body))
        c.send(body)
        r = c.read_response()
    assert r.status == 200, r
    assert r.header("X-Received-Length") == str(len(body))
    assert r.body == body


def test_post_chunked(gw_http):
    gw = gw_http()
    parts = [os.urandom(1), os.urandom(5000), os.urandom(70000), b"end"]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with gw.connect() as c:
        c.send(b"POST /body HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        # in pieces that split chunk headers, to exercise the gateway's chunked parser
        for i in range(0, len(wire), 997):
            c.send(wire[i:i + 997])
        r = c.read_response()
    assert r.status == 200, r
    assert r.body == b"".join(parts)
    assert r.header("X-Received-Length") == str(sum(map(len, parts)))
    reqs = gw.backend.requests()
    assert len(reqs) == 1 and reqs[0]["body_len"] == sum(map(len, parts))
    # whichever framing the gateway chose towards the backend, it is one of the two valid ones
    assert reqs[0]["framing"] in ("chunked", "length")


def test_keep_alive_reuses_client_connection(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        for i in range(5):
            c.send(simple_get("/echo-headers?n=%d" % i, "localhost"))
            r = c.read_response()
            assert r.status == 200, r
            assert r.json()["target"] == "/echo-headers?n=%d" % i
            assert (r.header("Connection") or "").lower() != "close"
    assert len(gw.backend.requests()) == 5


def test_pipelining_two_requests_in_one_write(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        c.send(simple_get("/echo-headers?n=1", "localhost") + simple_get("/echo-headers?n=2", "localhost"))
        r1 = c.read_response()
        r2 = c.read_response()
    assert (r1.status, r2.status) == (200, 200)
    assert r1.json()["target"] == "/echo-headers?n=1"
    assert r2.json()["target"] == "/echo-headers?n=2"


def test_pipelined_post_then_get(gw_http):
    gw = gw_http()
    body = b"0123456789" * 100
    with gw.connect() as c:
        c.send(b"POST /body HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
               + simple_get("/echo-headers?after-post", "localhost"))
        r1 = c.read_response()
        r2 = c.read_response()
    assert r1.body == body
    assert r2.json()["target"] == "/echo-headers?after-post"


def test_hop_by_hop_removed_end_to_end_kept(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        c.send(simple_get("/echo-headers", "localhost:%d" % gw.port,
                          "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
                          "Proxy-Connection: keep-alive\r\nTE: trailers\r\nX-End-To-End: kept\r\n"
                          "Cookie: a=1\r\n"))
        r = c.read_response()
    assert r.status == 200, r
    h = hdrs(r.json())
    for gone in ("x-hop", "keep-alive", "proxy-connection", "te"):
        assert gone not in h, (gone, h)
    for v in h.get("connection", []):
        assert "x-hop" not in v.lower(), h
    assert h["x-end-to-end"] == ["kept"]
    assert h["cookie"] == ["a=1"]


def test_host_kept_and_forwarding_headers(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        client_ip = c.sock.getsockname()[0]
        c.send(simple_get("/echo-headers", "localhost:%d" % gw.port, "X-Forwarded-For: 203.0.113.7\r\n"))
        r = c.read_response()
    h = hdrs(r.json())
    assert h["host"] == ["localhost:%d" % gw.port]
    xff = ",".join(h["x-forwarded-for"])
    assert [x.strip() for x in xff.split(",")] == ["203.0.113.7", client_ip]
    assert h["x-real-ip"] == [client_ip]
    assert h["x-forwarded-proto"] == ["https"]


def test_forwarding_headers_without_incoming_xff(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        client_ip = c.sock.getsockname()[0]
        c.send(simple_get("/echo-headers", "localhost"))
        h = hdrs(c.read_response().json())
    assert h["x-forwarded-for"] == [client_ip]


def test_plain_http_listener_proto(gw_http):
    gw = gw_http(scheme="http")
    with gw.connect(tls=False) as c:
        c.send(simple_get("/echo-headers", "localhost"))
        r = c.read_response()
    assert r.status == 200, r
    assert hdrs(r.json())["x-forwarded-proto"] == ["http"]


def test_head_and_status_codes(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        for code in (201, 204, 304, 404, 500):
            c.send(simple_get("/status/%d" % code, "localhost"))
            r = c.read_response()
            assert r.status == code, r
            assert r.body == (b"" if code in (204, 304) else b"status %d\n" % code)
        c.send(b"HEAD /big?n=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = c.read_response(method="HEAD")
        assert r.status == 200 and r.header("Content-Length") == "1000"
        c.send(simple_get("/echo-headers", "localhost"))
        assert c.read_response().status == 200  # nothing was left over from HEAD


def test_http10_client(gw_http):
    gw = gw_http()
    with gw.connect() as c:
        c.send(b"GET /big?n=5000 HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == pattern(5000)
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        c.sock.settimeout(5)
        assert c.read_all() == b""  # HTTP/1.0 without keep-alive: the gateway closes


def test_many_sequential_connections(gw_http):
    gw = gw_http()
    for i in range(30):
        with gw.connect() as c:
            c.send(simple_get("/echo-headers?i=%d" % i, "localhost", "Connection: close\r\n"))
            assert c.read_response().json()["target"] == "/echo-headers?i=%d" % i
    # and abrupt client disconnects in the middle of things do not hurt
    for i in range(10):
        s = socket.create_connection(("localhost", gw.port))
        s.close()
    with gw.connect() as c:
        c.send(simple_get("/echo-headers", "localhost"))
        assert c.read_response().status == 200


def test_local_error_keeps_the_connection_a_bad_head_ends_it(proxy, http_backend):
    """As nginx: a 404 the gateway answers itself (no location) leaves a keep-alive connection
    usable for the next request; a head that cannot be parsed gets its 400 and the close."""
    be = http_backend()
    gw = proxy(be.url + "/", "--workers", "1", scheme="http", host="127.0.0.1", path="/in/")
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b"GET /outside HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 404 and (r.header("Connection") or "").lower() != "close", r
        c.send(b"GET /in/echo-headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.read_response().status == 200
    with gw.connect(tls=False, timeout=5) as c:
        c.send(b"GET /in/x HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n")
        r = c.read_response()
        assert r.status == 400 and (r.header("Connection") or "").lower() == "close", r
