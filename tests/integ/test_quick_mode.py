"""Quick mode (`wssgate proxy --from --to`): forwarding as given, the local CA, listener options."""
import ssl
import time

import websockets

from helpers import free_port, openssl, run, simple_get, wait_until


def test_path_and_query_forwarded_unchanged(gw_http):
    gw = gw_http()
    targets = ["/", "/a/b/c", "/a%20b/%2F/x?y=1&z=%20&empty=&k", "/deep/path/?q=a+b",
               "/with;params?x=/y?z"]
    with gw.connect() as c:
        for t in targets:
            c.send(simple_get("/echo-headers" + t if t != "/" else "/echo-headers", "localhost"))
            r = c.read_response()
            assert r.status == 200, r
    got = [q["target"] for q in gw.backend.requests()]
    assert got == ["/echo-headers" + t if t != "/" else "/echo-headers" for t in targets]


def test_ws_path_and_query_forwarded_unchanged(gw_ws):
    gw = gw_ws()

    async def go():
        for p in ("/", "/chat/room1?token=abc%3D&x=1"):
            async with websockets.connect(gw.url(p, scheme="wss"), ssl=gw.ssl_context()) as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
    run(go(), 30)
    assert [e["path"] for e in gw.backend.events("open")] == ["/", "/chat/room1?token=abc%3D&x=1"]


def test_local_ca_created_and_leaf_for_host(gw_http, work):
    gw = gw_http()
    rc, ca_text = openssl(["x509", "-in", gw.ca, "-noout", "-text"])
    assert rc == 0, ca_text
    assert "CA:TRUE" in ca_text
    rc, out = openssl(["s_client", "-connect", "localhost:%d" % gw.port, "-servername", "localhost",
                       "-CAfile", gw.ca, "-verify_return_error", "-verify_hostname", "localhost",
                       "-showcerts"], input=b"")
    assert rc == 0, out
    assert "Verify return code: 0 (ok)" in out
    leaf = out[out.index("-----BEGIN CERTIFICATE-----"):out.index("-----END CERTIFICATE-----") + 25]
    (work.path / "leaf.pem").write_text(leaf + "\n")
    rc, leaf_text = openssl(["x509", "-in", work.path / "leaf.pem", "-noout", "-text"])
    assert "DNS:localhost" in leaf_text
    assert "CA:TRUE" not in leaf_text
    # security default: ECDSA P-256 keys
    assert "id-ecPublicKey" in leaf_text and ("P-256" in leaf_text or "prime256v1" in leaf_text), leaf_text


def test_local_ca_kept_across_restarts(proxy, http_backend, work):
    b = http_backend()
    home = work.path / "home"
    gw1 = proxy(b.url)
    first = open(gw1.ca, "rb").read()
    assert gw1.stop() == 0
    gw2 = proxy(b.url)
    assert open(gw2.ca, "rb").read() == first
    with gw2.connect() as c:  # trusted with the CA a client already had
        c.send(simple_get("/", "localhost"))
        assert c.read_response().status == 200
    assert gw2.home == home


def test_own_cert_and_key(proxy, http_backend, work):
    d = work.path
    rc, out = openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", d / "own.key", "-out", d / "own.pem", "-days", "2", "-subj", "/CN=own-test",
                       "-addext", "subjectAltName=DNS:localhost"])
    assert rc == 0, out
    b = http_backend()
    gw = proxy(b.url, "--cert", d / "own.pem", "--key", d / "own.key")
    ctx = ssl.create_default_context(cafile=str(d / "own.pem"))
    with gw.connect(ctx=ctx) as c:
        assert c.sock.getpeercert()["subject"] == ((("commonName", "own-test"),),)
        c.send(simple_get("/echo-headers", "localhost"))
        assert c.read_response().status == 200


def test_listen_option(proxy, http_backend):
    b = http_backend()
    port = free_port()
    gw = proxy(b.url, "--listen", "127.0.0.1:%d" % port, port=port)
    with gw.connect() as c:
        c.send(simple_get("/echo-headers", "localhost"))
        assert c.read_response().status == 200


def test_access_log_default_stdout_and_file(gw_http, work):
    gw = gw_http()
    with gw.connect() as c:
        c.send(simple_get("/echo-headers?access=stdout", "localhost"))
        assert c.read_response().status == 200
    assert wait_until(lambda: "/echo-headers?access=stdout" in gw.stdout(), 3), gw.stdout()
    line = [l for l in gw.stdout().splitlines() if "/echo-headers?access=stdout" in l][0]
    assert "200" in line, line

    log = work.path / "access.log"
    gw2 = gw_http("--access-log", str(log))
    with gw2.connect() as c:
        c.send(simple_get("/status/404?access=file", "localhost"))
        assert c.read_response().status == 404
    assert wait_until(lambda: log.exists() and "/status/404?access=file" in log.read_text(), 3)
    assert "404" in log.read_text()
    assert "/status/404?access=file" not in gw2.stdout()


def test_access_log_off(gw_http):
    gw = gw_http("--access-log", "off")
    with gw.connect() as c:
        c.send(simple_get("/echo-headers?access=off", "localhost"))
        assert c.read_response().status == 200
    time.sleep(0.5)
    assert "access=off" not in gw.stdout() + gw.stderr()

