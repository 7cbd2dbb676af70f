"""Failures on the backend side, timeouts, half-close, abuse, and a graceful stop."""
import asyncio
import os
import signal
import socket
import time

import pytest
import websockets

from helpers import (BioTLSConn, Closed, free_port, run, simple_get, wait_until, ws_frame, ws_read_frame,
                     ws_upgrade_request)


def wss_connect(gw, path="/", **kw):
    return websockets.connect(gw.url(path, scheme="wss"), ssl=gw.ssl_context(), compression=None,
                              ping_interval=None, open_timeout=10, close_timeout=5, **kw)


def one_response(gw, raw):
    with gw.connect(timeout=15) as c:
        c.send(raw)
        return c.read_response()


# --- the backend's answer to a WebSocket handshake ------------------------------------------

@pytest.mark.parametrize("code", [403, 404])
def test_backend_refuses_handshake_status_passes(gw_http, code):
    gw = gw_http()
    r = one_response(gw, ws_upgrade_request("/status/%d" % code, "localhost"))
    assert r.status == code, r
    assert r.body == b"status %d\n" % code

    async def lib_client():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            async with wss_connect(gw, "/status/%d" % code):
                pass
        return e.value.status_code
    assert run(lib_client(), 30) == code


def test_backend_101_wrong_accept_is_502(gw_http):
    gw = gw_http()
    r = one_response(gw, ws_upgrade_request("/raw101-bad-accept", "localhost"))
    assert r.status == 502, r


def test_backend_101_to_plain_request_is_502(gw_http):
    gw = gw_http()
    r = one_response(gw, simple_get("/raw101", "localhost"))
    assert r.status == 502, r
    reqs = gw.backend.requests()
    assert len(reqs) == 1 and reqs[0]["target"] == "/raw101"  # it did go to the backend


def test_backend_invalid_http_is_502(gw_http):
    gw = gw_http()
    r = one_response(gw, simple_get("/bad-response", "localhost"))
    assert r.status == 502, r
    # and a good request afterwards is served
    assert one_response(gw, simple_get("/echo-headers", "localhost")).status == 200


# --- backend down, slow, killed ----------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_backend_refused_is_502_naming_backend(proxy, scheme):
    port = free_port()  # nothing listens there
    to = "%s://127.0.0.1:%d" % (scheme, port)
    gw = proxy(to)
    raw = ws_upgrade_request("/", "localhost") if scheme == "ws" else simple_get("/", "localhost")
    r = one_response(gw, raw)
    assert r.status == 502, r
    body = r.body.decode(errors="replace")
    assert to in body, body
    assert "refused" in body.lower(), body
    assert wait_until(lambda: to in gw.stderr() and "refused" in gw.stderr().lower(), 3), gw.stderr()


def test_backend_silent_past_read_timeout_is_504(gw_http):
    gw = gw_http("--read-timeout", "1")
    t = time.monotonic()
    r = one_response(gw, simple_get("/slow?s=6", "localhost"))
    took = time.monotonic() - t
    assert r.status == 504, r
    assert 0.8 <= took < 4, took
    # a fast request on the same gateway is fine
    assert one_response(gw, simple_get("/slow?s=0.1", "localhost")).status == 200


def test_killing_backend_mid_tunnel_closes_client(gw_ws):
    gw = gw_ws()

    async def go():
        async with wss_connect(gw) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            gw.backend.popen.kill()  # SIGKILL, by PID, to the backend this test started
            gw.backend.popen.wait(5)
            t = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return time.monotonic() - t
    assert run(go(), 30) < 5


def test_idle_tunnel_closed_after_idle_timeout(gw_ws):
    gw = gw_ws("--idle-timeout", "1")

    async def go():
        async with wss_connect(gw) as ws:
            await ws.send("once")
            assert await ws.recv() == "once"
            t = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)  # nothing more is sent either way
            return time.monotonic() - t
    took = run(go(), 30)
    assert 0.8 <= took < 4, took


# --- half-close --------------------------------------------------------------------------------

def _upgrade_and_half_close(c, half_close):
    c.send(ws_upgrade_request("/raw101-halfclose", "localhost"))
    r = c.read_response(head_only=True)
    assert r.status == 101, r
    c.send(ws_frame(0x1, b"before-fin"))
    half_close()
    fin, op, payload = ws_read_frame(c)
    return op, payload


def test_half_close_plain_listener(gw_http):
    gw = gw_http(scheme="http")
    with gw.connect(tls=False) as c:
        op, payload = _upgrade_and_half_close(c, c.shutdown_write)
    assert (op, payload) == (0x1, b"eof-seen")
    assert [e["result"] for e in gw.backend.events("halfclose")] == ["eof-seen"]
    assert gw.backend.bytes_received() > 0


def test_half_close_tls(gw_http):
    gw = gw_http()
    c = BioTLSConn("localhost", gw.port, gw.ssl_context())
    try:
        # close_notify then a TCP FIN: the TLS way to say "I am done sending"
        op, payload = _upgrade_and_half_close(c, c.close_notify_and_fin)
    finally:
        c.close()
    assert (op, payload) == (0x1, b"eof-seen")


# --- abuse ---------------------------------------------------------------------------------------

def test_still_serves_after_malformed_battery(gw_http):
    gw = gw_http()
    junk = [
        b"\x00" * 100,
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\r\n\r\n\r\n\r\n",
        b"GET\r\n\r\n",
        b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
        b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",  # then EOF mid-body
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",  # EOF mid-head
        os.urandom(4096),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\xff" * 5000,
    ]
    for data in junk:
        with gw.connect(timeout=5) as c:
            try:
                c.send(data)
                c.sock.settimeout(1)
                c.read_all()
            except (OSError, Closed):
                pass
    # TCP-level abuse: connect and leave, half a TLS handshake, plain HTTP to the TLS port
    for data in (b"", b"\x16\x03\x01\x00\xff\x01", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
        s = socket.create_connection(("localhost", gw.port), timeout=5)
        try:
            s.sendall(data)
            s.settimeout(1)
            s.recv(1000)
        except OSError:
            pass
        s.close()
    for i in range(3):
        r = one_response(gw, simple_get("/echo-headers?ok=%d" % i, "localhost"))
        assert r.status == 200 and r.json()["target"] == "/echo-headers?ok=%d" % i
    assert gw.alive()


# --- graceful stop -------------------------------------------------------------------------------

def test_sigterm_closes_open_tunnel_with_1001(gw_ws):
    gw = gw_ws("--drain-timeout", "1")

    async def go():
        async with wss_connect(gw) as ws:
            await ws.send("up")
            assert await ws.recv() == "up"
            t = time.monotonic()
            gw.signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return time.monotonic() - t, ws.close_code
    took, code = run(go(), 30)
    assert code == 1001, code
    assert took < 1 + 2, took
    assert gw.wait_exit(15) == 0, gw.stderr()


def test_sigterm_idle_gateway_exits_0_quickly(gw_http):
    gw = gw_http()
    assert one_response(gw, simple_get("/", "localhost")).status == 200
    t = time.monotonic()
    gw.signal(signal.SIGTERM)
    assert gw.wait_exit(15) == 0, gw.stderr()
    assert time.monotonic() - t < 5
    assert not wait_until(lambda: _accepts(gw.port), 0.3)


def _accepts(port):
    try:
        socket.create_connection(("localhost", port), timeout=0.3).close()
        return True
    except OSError:
        return False
