"""TLS termination: protocol versions, ALPN, session resumption across workers."""
import ssl

import pytest

from helpers import Proc, free_port, host_cert, openssl, simple_get


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


def conf_gateway(work, start_gateway, ssl_lines):
    """A gateway from a configuration: one TLS server on localhost with ssl_lines added to it."""
    home = work.path / "home"
    cert, key = host_cert(home, "localhost")
    port = free_port()
    conf = work.path / "tls.conf"
    conf.write_text("http {\nserver {\nlisten 127.0.0.1:%d ssl;\nserver_name localhost;\n"
                    "ssl_certificate %s;\nssl_certificate_key %s;\n%s\n"
                    "location / { return 200 \"ok\"; }\n}\n}\n" % (port, cert, key, ssl_lines))
    return start_gateway(["-c", str(conf)], "localhost", [port])


def resumed(gw, work, tls, tries=3):
    """Whether a second s_client resumes the first one's session, on each of `tries` attempts."""
    base = ["s_client", "-connect", "localhost:%d" % gw.port, "-servername", "localhost",
            "-CAfile", gw.ca, "-verify_return_error", tls, "-ign_eof"]
    req = simple_get("/", "localhost", "Connection: close\r\n")
    sess = work.path / "first.pem"
    rc, out = openssl(base + ["-sess_out", sess], input=req)
    assert rc == 0 and "HTTP/1.1 200" in out, out
    if not sess.exists():
        return [False] * tries  # nothing resumable was given out at all
    got = []
    for _ in range(tries):
        rc, out = openssl(base + ["-sess_in", sess], input=req)
        assert rc == 0 and "HTTP/1.1 200" in out, out
        got.append("Reused, TLSv1." in out)
    return got


@pytest.mark.parametrize("lines, tls, want", [
    ("", "-tls1_3", True),
    ("ssl_session_tickets off;", "-tls1_3", True),   # stateful: through the session cache
    ("ssl_session_cache off;", "-tls1_3", True),      # stateless tickets
    ("ssl_session_tickets off;\nssl_session_cache off;", "-tls1_3", False),
    ("ssl_session_tickets off;\nssl_session_cache none;", "-tls1_2", False),
    ("ssl_session_tickets off;", "-tls1_2", True),    # session IDs
], ids=["default", "no-tickets", "no-cache", "neither-1.3", "neither-1.2", "no-tickets-1.2"])
def test_session_tickets_and_cache_directives(work, start_gateway, lines, tls, want):
    """ssl_session_tickets and ssl_session_cache off do what nginx's do. (They were accepted and
    ignored: with both off, clients still resumed.)"""
    gw = conf_gateway(work, start_gateway, lines)
    assert resumed(gw, work, tls) == [want] * 3


def test_ssl_ecdh_curve(work, start_gateway):
    """The groups offered follow ssl_ecdh_curve; a client that has none of them is refused."""
    gw = conf_gateway(work, start_gateway, "ssl_ecdh_curve secp384r1;")
    base = ["s_client", "-connect", "localhost:%d" % gw.port, "-servername", "localhost",
            "-CAfile", gw.ca, "-tls1_3"]
    rc, out = openssl(base + ["-groups", "secp384r1"], input=b"")
    assert "Server Temp Key: ECDH, secp384r1" in out or "Negotiated TLS1.3 group: secp384r1" in out, out
    rc, out = openssl(base + ["-groups", "X25519"], input=b"")
    assert rc != 0 and "Server Temp Key" not in out, out
