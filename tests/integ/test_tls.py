"""TLS termination: protocol versions, ALPN, session resumption across workers."""
import ssl

import pytest

from helpers import Proc, free_port, openssl, simple_get


@pytest.mark.parametrize("version,name", [(ssl.TLSVersion.TLSv1_3, "TLSv1.3"),
                                          (ssl.TLSVersion.TLSv1_2, "TLSv1.2")])
def test_handshake_versions(gw_http, version, name):
    gw = gw_http()
    ctx = gw.ssl_context(minimum_version=version, maximum_version=version)
    with gw.connect(ctx=ctx) as c:
        assert c.sock.version() == name
        # the certificate was verified against $WSSGATE_HOME/ca.pem for the name "localhost"
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        c.send(simple_get("/echo-headers", "localhost:%d" % gw.port))
        r = c.read_response()
    assert r.status == 200, r
    assert r.json()["target"] == "/echo-headers"


def test_handshake_openssl_s_client_tls13(gw_http):
    gw = gw_http()
    rc, out = openssl(["s_client", "-connect", "localhost:%d" % gw.port, "-servername", "localhost",
                       "-CAfile", gw.ca, "-verify_return_error", "-tls1_3", "-ign_eof"],
                      input=simple_get("/echo-headers", "localhost", "Connection: close\r\n"))
    assert rc == 0, out
    assert "Verify return code: 0 (ok)" in out
    assert "TLSv1.3" in out
    assert "HTTP/1.1 200" in out


def test_tls11_refused(gw_http, work):
    # Debian's OpenSSL will not even offer TLS 1.1 at its default security level, so the client
    # is told SECLEVEL=0; a control server that allows TLS 1.1 proves that this client really can
    # negotiate it, so that a refusal below comes from the gateway.
    client = ["s_client", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]
    ctl_port = free_port()
    key, cert = work.path / "ctl.key", work.path / "ctl.pem"
    rc, out = openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                       "-days", "1", "-subj", "/CN=localhost"])
    assert rc == 0, out
    ctl = Proc("s_server", ["openssl", "s_server", "-accept", "127.0.0.1:%d" % ctl_port, "-cert", cert,
                            "-key", key, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www"], work.path)
    work.procs.append(ctl)
    ctl.wait_ports("127.0.0.1", [ctl_port])
    rc, out = openssl(client + ["-connect", "127.0.0.1:%d" % ctl_port], input=b"Q\n")
    assert "Protocol  : TLSv1.1" in out or "Protocol: TLSv1.1" in out, "control: TLS 1.1 client broken:\n" + out

    gw = gw_http()
    rc, out = openssl(client + ["-connect", "localhost:%d" % gw.port, "-servername", "localhost"], input=b"Q\n")
    assert rc != 0, out
    assert "Cipher is (NONE)" in out, out  # no TLS 1.1 session came about
    # and the gateway still serves a modern client
    with gw.connect() as c:
        c.send(simple_get("/", "localhost"))
        assert c.read_response().status == 200


def test_alpn_http11(gw_http):
    gw = gw_http()
    ctx = gw.ssl_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with gw.connect(ctx=ctx) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
    rc, out = openssl(["s_client", "-connect", "localhost:%d" % gw.port, "-servername", "localhost",
                       "-CAfile", gw.ca, "-alpn", "h2,http/1.1"], input=b"")
    assert "ALPN protocol: http/1.1" in out, out


@pytest.mark.parametrize("tls", ["-tls1_3", "-tls1_2"])
def test_session_resumption_across_workers(gw_http, work, tls):
    gw = gw_http("--workers", "2")
    base = ["s_client", "-connect", "localhost:%d" % gw.port, "-servername", "localhost",
            "-CAfile", gw.ca, "-verify_return_error", tls, "-ign_eof"]
    req = simple_get("/echo-headers", "localhost", "Connection: close\r\n")
    sess = work.path / "sess0.pem"
    rc, out = openssl(base + ["-sess_out", sess], input=req)
    assert rc == 0 and sess.exists(), out
    assert "New, TLSv1." in out, out
    reused = []
    # Each attempt uses the newest ticket; with SO_REUSEPORT over 2 workers the 8 connections
    # land on both, so resumption must work whichever worker issued the ticket.
    for i in range(1, 9):
        nxt = work.path / ("sess%d.pem" % i)
        rc, out = openssl(base + ["-sess_in", sess, "-sess_out", nxt], input=req)
        assert rc == 0, out
        assert "HTTP/1.1 200" in out, out
        reused.append("Reused, TLSv1." in out)
        if nxt.exists():
            sess = nxt
    assert all(reused), "resumed on attempts: %s" % reused
