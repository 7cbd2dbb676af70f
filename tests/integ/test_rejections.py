"""Requests the gateway must refuse itself: the right status, not one byte to the backend, and the
gateway serves normally afterwards. Each refusal has a neighbour that is accepted (the controls),
so that a gateway refusing everything fails too."""
import time

import pytest

from helpers import Closed, simple_get, ws_key, ws_upgrade_request

H = "Host: localhost\r\n"


def req(s):
    return s.encode("latin-1")


BAD = [
    # request smuggling
    ("cl_and_te", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n", 400),
    ("te_and_cl", "POST /body HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
     "0\r\n\r\n", 400),
    ("cl_duplicate_same", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
     400),
    ("cl_duplicate_differing", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
     "hello!", 400),
    ("cl_list_differing", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 5, 6\r\n\r\nhello!", 400),
    ("cl_plus", "POST /body HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nhello", 400),
    ("cl_hex", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 0x10\r\n\r\n0123456789abcdef", 400),
    ("cl_negative", "POST /body HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\n", 400),
    ("cl_overflow", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 184467440737095516160\r\n\r\n", 400),
    ("te_gzip_chunked", "POST /body HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400),
    ("te_chunked_gzip", "POST /body HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    # header syntax
    ("obs_fold", "GET / HTTP/1.1\r\n" + H + "X-A: one\r\n  folded\r\n\r\n", 400),
    ("space_before_colon", "GET / HTTP/1.1\r\n" + H + "X-A : b\r\n\r\n", 400),
    ("nul_in_value", "GET / HTTP/1.1\r\n" + H + "X-A: a\x00b\r\n\r\n", 400),
    ("ctl_in_value", "GET / HTTP/1.1\r\n" + H + "X-A: a\x01b\r\n\r\n", 400),
    ("del_in_value", "GET / HTTP/1.1\r\n" + H + "X-A: a\x7fb\r\n\r\n", 400),
    ("ctl_in_name", "GET / HTTP/1.1\r\n" + H + "X\x01A: b\r\n\r\n", 400),
    ("bare_lf_everywhere", "GET / HTTP/1.1\nHost: localhost\n\n", 400),
    ("bare_lf_one_line", "GET / HTTP/1.1\r\n" + H + "X-A: b\nX-B: c\r\n\r\n", 400),
    # request line
    ("target_not_origin_form", "GET foo HTTP/1.1\r\n" + H + "\r\n", 400),
    ("target_with_space", "GET /a b HTTP/1.1\r\n" + H + "\r\n", 400),
    ("target_with_ctl", "GET /a\x01b HTTP/1.1\r\n" + H + "\r\n", 400),
    ("no_host_http11", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    # limits
    ("request_line_over_8k", "GET /" + "a" * 9000 + " HTTP/1.1\r\n" + H + "\r\n", 414),
    ("header_block_over_16k", "GET / HTTP/1.1\r\n" + H + "X-Big: " + "b" * 17000 + "\r\n\r\n", 431),
    ("header_block_over_16k_many_lines", "GET / HTTP/1.1\r\n" + H
     + "".join("X-L%d: %s\r\n" % (i, "v" * 200) for i in range(90)) + "\r\n", 431),
    ("over_100_headers", "GET / HTTP/1.1\r\n" + H + "".join("X-H%d: v\r\n" % i for i in range(101)) + "\r\n", 431),
    # WebSocket handshake
    ("ws_no_key", "GET / HTTP/1.1\r\n" + H + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n", 400),
    ("ws_key_not_base64_16", "GET / HTTP/1.1\r\n" + H + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: dG9vIHNob3J0\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
    ("ws_key_garbage", "GET / HTTP/1.1\r\n" + H + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: !!!!not-base64!!!!!!!!==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
]

GOOD = [  # the neighbours: accepted and forwarded
    ("cl_ok", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 5\r\n\r\nhello"),
    ("cl_leading_zeros", "POST /body HTTP/1.1\r\n" + H + "Content-Length: 005\r\n\r\nhello"),
    ("te_chunked", "POST /body HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("request_line_7k", "GET /" + "a" * 7000 + " HTTP/1.1\r\n" + H + "\r\n"),
    ("header_block_12k", "GET / HTTP/1.1\r\n" + H + "X-Big: " + "b" * 12000 + "\r\n\r\n"),
    ("ninety_headers", "GET / HTTP/1.1\r\n" + H + "".join("X-H%d: v\r\n" % i for i in range(90)) + "\r\n"),
    ("http10_no_host", "GET / HTTP/1.0\r\n\r\n"),
    ("obs_text_in_value", "GET / HTTP/1.1\r\n" + H + "X-A: caf\xe9\tand tab\r\n\r\n"),
    ("ws_like_but_no_upgrade", "GET / HTTP/1.1\r\n" + H + "Sec-WebSocket-Version: 8\r\n\r\n"),
]


def send_and_read(gw, raw):
    with gw.connect(timeout=10) as c:
        try:
            c.send(raw)
        except OSError:
            pass  # the gateway may answer and close before reading all of a too-large request
        try:
            return c.read_response()
        except Closed as e:
            pytest.fail("no response: %s (%s)" % (e, c.eof_how))


def still_serves(gw):
    with gw.connect() as c:
        c.send(simple_get("/echo-headers?after", "localhost"))
        r = c.read_response()
    assert r.status == 200, r
    assert r.json()["target"] == "/echo-headers?after"


@pytest.mark.parametrize("name,raw,status", BAD, ids=[b[0] for b in BAD])
def test_rejected(gw_http, name, raw, status):
    gw = gw_http()
    r = send_and_read(gw, req(raw))
    assert r.status == status, r
    time.sleep(0.2)
    assert gw.backend.bytes_received() == 0, gw.backend.events()
    still_serves(gw)


@pytest.mark.parametrize("name,raw", GOOD, ids=[g[0] for g in GOOD])
def test_accepted_neighbour(gw_http, name, raw):
    gw = gw_http()
    r = send_and_read(gw, req(raw))
    assert r.status == 200, r
    assert len(gw.backend.requests()) == 1


def test_body_over_max_body_413(gw_http):
    gw = gw_http("--max-body", "1000")
    r = send_and_read(gw, b"POST /body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n" + b"x" * 1001)
    assert r.status == 413, r
    time.sleep(0.2)
    assert gw.backend.bytes_received() == 0
    r = send_and_read(gw, b"POST /body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n" + b"y" * 1000)
    assert r.status == 200 and r.body == b"y" * 1000, r


def test_ws_version_8_gets_426(gw_http):
    gw = gw_http()
    r = send_and_read(gw, ws_upgrade_request("/", "localhost", version="8"))
    assert r.status == 426, r
    assert r.header("Sec-WebSocket-Version") == "13"
    time.sleep(0.2)
    assert gw.backend.bytes_received() == 0
    still_serves(gw)


def backend_saw_plain(gw, r):
    assert r.status == 200, r
    info = r.json()
    h = {}
    for n, v in info["headers"]:
        h.setdefault(n.lower(), []).append(v.lower())
    assert "upgrade" not in h, h
    assert all("upgrade" not in v for v in h.get("connection", [])), h
    return info


def test_upgrade_h2c_is_plain_http(gw_http):
    gw = gw_http()
    r = send_and_read(gw, simple_get("/echo-headers", "localhost",
                                     "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                     "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"))
    info = backend_saw_plain(gw, r)
    assert "http2-settings" not in [n.lower() for n, _ in info["headers"]]


def test_http10_upgrade_is_plain_http(gw_http):
    gw = gw_http()
    raw = ("GET /echo-headers HTTP/1.0\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % ws_key()).encode()
    backend_saw_plain(gw, send_and_read(gw, raw))
