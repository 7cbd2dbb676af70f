"""WebSocket through the gateway (wss -> ws) with real clients: python websockets and node ws."""
import asyncio
import base64
import hashlib
import json
import os
import subprocess
import time

import pytest
import websockets

from helpers import (NODE, REPO, pattern, run, wait_until, ws_frame, ws_key, ws_read_frame,
                     ws_upgrade_request)


def connect(gw, path="/", **kw):
    kw.setdefault("compression", None)
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(gw.url(path, scheme="wss"), ssl=gw.ssl_context(), **kw)


def test_text_and_binary_echo(gw_ws):
    gw = gw_ws()

    async def go():
        async with connect(gw) as ws:
            await ws.send("hello ünïcode ✓")
            assert await ws.recv() == "hello ünïcode ✓"
            await ws.send(b"\x00\x01\xfe\xff binary")
            got = await ws.recv()
            assert isinstance(got, bytes) and got == b"\x00\x01\xfe\xff binary"
            for i in range(50):
                await ws.send("m%d" % i)
            assert [await ws.recv() for _ in range(50)] == ["m%d" % i for i in range(50)]
    run(go(), 30)
    msgs = gw.backend.events("message")
    assert [m["type"] for m in msgs[:2]] == ["text", "binary"]
    assert len(msgs) == 52


@pytest.mark.parametrize("size", [1 << 20, 16 << 20], ids=["1MiB", "16MiB"])
def test_large_binary_byte_exact(gw_ws, size):
    gw = gw_ws()
    data = pattern(size - 7) + os.urandom(7)

    async def go():
        async with connect(gw) as ws:
            await ws.send(data)
            got = await ws.recv()
            assert len(got) == len(data)
            assert got == data
            text = "é" * (size // 4)  # 2 bytes each in UTF-8: size/2 bytes
            await ws.send(text)
            assert await ws.recv() == text
    run(go(), 120)
    assert [m["len"] for m in gw.backend.events("message")] == [size, size // 4]  # text: characters


def test_ping_pong(gw_ws):
    gw = gw_ws()

    async def go():
        async with connect(gw) as ws:
            for i in range(3):
                t = time.monotonic()
                waiter = await ws.ping(b"probe-%d" % i)
                await asyncio.wait_for(waiter, 5)
                assert time.monotonic() - t < 5
            await ws.send("after pings")
            assert await ws.recv() == "after pings"
    run(go(), 30)


def test_client_close_code_propagates(gw_ws):
    gw = gw_ws()

    async def go():
        ws = await connect(gw)
        await ws.send("x")
        assert await ws.recv() == "x"
        await ws.close(4001, "client says bye")
        return ws.close_code, ws.close_reason
    code, reason = run(go(), 30)
    # the backend's reply close frame (it echoes the code) came back through the gateway
    assert (code, reason) == (4001, "client says bye")
    assert wait_until(lambda: gw.backend.events("close"), 5), "backend saw no close"
    closes = gw.backend.events("close")
    assert [(c["code"], c["reason"]) for c in closes] == [(4001, "client says bye")]


def test_backend_close_code_propagates(gw_ws):
    gw = gw_ws()

    async def go():
        async with connect(gw, "/close?code=4002&reason=server-bye") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code, ws.close_reason
    assert run(go(), 30) == (4002, "server-bye")


def test_subprotocol_passes_through(gw_ws):
    gw = gw_ws()

    async def go():
        async with connect(gw, subprotocols=["chat.v2"]) as ws:
            assert ws.subprotocol == "chat.v2"
            await ws.send("p")
            assert await ws.recv() == "p"
    run(go(), 30)
    opened = gw.backend.events("open")
    assert len(opened) == 1
    hdrs = {n.lower(): v for n, v in opened[0]["headers"]}
    assert hdrs.get("sec-websocket-protocol") == "chat.v2"
    assert opened[0]["subprotocol"] == "chat.v2"


def test_path_and_query_reach_ws_backend(gw_ws):
    gw = gw_ws()

    async def go():
        async with connect(gw, "/room/42?user=a%20b&x=1") as ws:
            await ws.send("q")
            assert await ws.recv() == "q"
    run(go(), 30)
    assert [e["path"] for e in gw.backend.events("open")] == ["/room/42?user=a%20b&x=1"]


def test_thousand_concurrent_connections(gw_ws):
    n = 1000
    gw = gw_ws()

    async def one(i, opened, sem):
        async with sem:
            ws = await connect(gw, "/c%d" % i, open_timeout=30)
        opened.append(ws)
        return ws

    async def go():
        opened = []
        sem = asyncio.Semaphore(64)  # bound the handshakes in flight, not the connections open
        try:
            conns = await asyncio.gather(*(one(i, opened, sem) for i in range(n)))
            await asyncio.gather(*(ws.send("hello %d" % i) for i, ws in enumerate(conns)))
            got = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 30) for ws in conns))
            assert got == ["hello %d" % i for i in range(n)]
        finally:
            await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
        return len(opened)
    t = time.monotonic()
    assert run(go(), 150) == n
    elapsed = time.monotonic() - t
    assert elapsed < 150
    # all n tunnels were open at the backend at the same time
    assert max(e["open"] for e in gw.backend.events("open")) == n


def node_client(gw, *steps):
    p = subprocess.run([NODE, str(REPO / "tests" / "integ" / "clients" / "ws_client.mjs"),
                        gw.url("/", scheme="wss"), gw.ca] + list(steps),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, cwd=str(REPO))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return json.loads(p.stdout)


def test_node_client_through_gateway_to_python_backend(gw_ws):
    gw = gw_ws()
    res = node_client(gw, "text:hello from node", "binary:1048576", "binary:16777216", "close:4003")
    assert res["steps"] == [
        {"step": "text:hello from node", "ok": True},
        {"step": "binary:1048576", "ok": True},
        {"step": "binary:16777216", "ok": True},
        {"step": "close:4003", "ok": True, "code": 4003},
    ]
    assert [c["code"] for c in gw.backend.events("close")] == [4003]


def test_node_client_to_node_backend(proxy, node_ws_backend):
    b = node_ws_backend()
    gw = proxy(b.url)
    res = node_client(gw, "text:ping", "binary:1048576", "close:1000")
    assert all(s["ok"] for s in res["steps"]), res
    assert len(res["steps"]) == 3


def test_backend_close_after_n_messages(gw_ws):
    gw = gw_ws(backend_args=("--close-after", "3"))

    async def go():
        async with connect(gw) as ws:
            got = []
            for i in range(3):
                await ws.send("n%d" % i)
                got.append(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return got, ws.close_code, ws.close_reason
    assert run(go(), 30) == (["n0", "n1", "n2"], 1000, "close-after")


def test_frame_pipelined_behind_upgrade_request(gw_ws):
    # The client's first frame arrives in the same write as its handshake: the gateway must hand
    # those bytes to the backend once the tunnel is up, not drop them.
    gw = gw_ws()
    with gw.connect() as c:
        c.send(ws_upgrade_request("/", "localhost:%d" % gw.port) + ws_frame(0x1, b"early bird"))
        r = c.read_response(head_only=True)
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept")
        assert ws_read_frame(c) == (True, 0x1, b"early bird")
        c.send(ws_frame(0x2, b"\x00second"))
        assert ws_read_frame(c) == (True, 0x2, b"\x00second")


def test_backend_message_right_after_101(gw_ws):
    gw = gw_ws()

    async def go():
        async with connect(gw, "/greet") as ws:
            assert await asyncio.wait_for(ws.recv(), 5) == "welcome"
            await ws.send("then echo")
            assert await ws.recv() == "then echo"
    run(go(), 30)


def test_firefox_style_upgrade_headers(gw_ws):
    # Firefox sends "Connection: keep-alive, Upgrade"; header names and tokens are case-insensitive.
    gw = gw_ws()
    key = ws_key()
    raw = ("GET /ff HTTP/1.1\r\nHost: localhost:%d\r\nconnection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\n"
           "sec-websocket-key: %s\r\nsec-websocket-version: 13\r\n\r\n" % (gw.port, key)).encode()
    with gw.connect() as c:
        c.send(raw)
        r = c.read_response(head_only=True)
        assert r.status == 101, r
        expect = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        assert r.header("Sec-WebSocket-Accept") == expect.decode()
        c.send(ws_frame(0x1, b"ff"))
        assert ws_read_frame(c) == (True, 0x1, b"ff")
    assert [e["path"] for e in gw.backend.events("open")] == ["/ff"]
