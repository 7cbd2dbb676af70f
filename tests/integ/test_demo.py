"""`wssgate demo`: the chat page over HTTPS, the HTTP -> HTTPS redirect, and the chat relay."""
import asyncio

import pytest
import websockets

from helpers import free_port, run, simple_get


@pytest.fixture
def demo(start_gateway):
    https, http, backend = free_port(), free_port(), free_port()
    gw = start_gateway(["demo", "--host", "localhost", "--https-port", https, "--http-port", http,
                        "--backend-port", backend, "--workers", "1"], "localhost", [https, http])
    gw.http_port, gw.backend_port = http, backend
    return gw


def test_demo_page_over_https(demo):
    with demo.connect() as c:
        c.send(simple_get("/", "localhost:%d" % demo.port))
        r = c.read_response()
    assert r.status == 200, r
    assert "text/html" in (r.header("Content-Type") or "")
    page = r.body.decode()
    for el in ('id="status"', 'id="msg"', 'id="send"', 'id="log"'):
        assert el in page, el
    assert "/websocket/" in page


@pytest.mark.parametrize("path", ["/", "/some/page?x=1"])
def test_demo_http_redirects_to_https(demo, path):
    with demo.connect(tls=False, port=demo.http_port) as c:
        c.send(simple_get(path, "localhost:%d" % demo.http_port))
        r = c.read_response()
    assert r.status == 301, r
    loc = r.header("Location")
    assert loc == "https://localhost:%d%s" % (demo.port, path), loc


def test_demo_chat_relayed_between_two_clients(demo):
    url = demo.url("/websocket/", scheme="wss")

    async def go():
        ctx = demo.ssl_context()
        async with websockets.connect(url, ssl=ctx) as a, websockets.connect(url, ssl=ctx) as b:
            await asyncio.sleep(0.2)  # both joined before the first message
            await a.send("hello from a")
            assert await asyncio.wait_for(a.recv(), 5) == "hello from a"
            assert await asyncio.wait_for(b.recv(), 5) == "hello from a"
            await b.send("hi a, b here")
            assert await asyncio.wait_for(a.recv(), 5) == "hi a, b here"
            assert await asyncio.wait_for(b.recv(), 5) == "hi a, b here"
    run(go(), 30)

