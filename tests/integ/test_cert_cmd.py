"""`wssgate cert`: certificates checked with `openssl x509 -text` and `openssl verify`, files and
modes, refusing to overwrite, usage errors; `--install`/`--uninstall`/`--show` on a temporary HOME
(NSS databases via certutil) and a trust dir standing in for the system store
(WSSGATE_TRUST_DIR), so that the machine's own stores are never touched."""
import os
import re
import stat
import subprocess

from helpers import openssl
from test_doctor import user_env, wssgate


def x509_text(path):
    rc, out = openssl(["x509", "-in", str(path), "-noout", "-text"])
    assert rc == 0, out
    return out


def fingerprint(path):
    rc, out = openssl(["x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"])
    assert rc == 0, out
    return out.strip().split("=", 1)[1]


def test_names_ip_wildcard_signed_by_the_local_ca(work):
    r = wssgate(work, "cert", "localhost", "127.0.0.1", "::1", "*.example.test")
    assert r.rc == 0, r
    cert, key = work.path / "localhost+3.pem", work.path / "localhost+3-key.pem"
    ca = work.path / "home" / "ca.pem"
    assert "created a local certificate authority: %s" % ca in r.out
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cert).st_mode) == 0o644
    text = x509_text(cert)
    assert "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:*.example.test" in text
    assert "TLS Web Server Authentication" in text
    assert "CA:FALSE" in text
    assert "ASN1 OID: prime256v1" in text
    m = re.search(r"Not Before: (.*)\n\s*Not After : (.*)\n", text)
    rc, days = openssl(["x509", "-in", str(cert), "-noout", "-checkend", str(397 * 86400)])
    assert rc != 0, "valid for more than 397 days: %s" % (m.groups(),)
    rc, out = openssl(["verify", "-CAfile", str(ca), "-purpose", "sslserver", str(cert)])
    assert rc == 0 and ": OK" in out, out
    # the file holds the chain a server sends: the leaf, then the CA
    assert (cert.read_text().count("BEGIN CERTIFICATE")) == 2
    # what it prints: paths, names, expiry, fingerprint
    assert "certificate: ./localhost+3.pem" in r.out and "key:         ./localhost+3-key.pem" in r.out
    assert "names:       localhost, 127.0.0.1, ::1, *.example.test" in r.out
    assert fingerprint(cert) in r.out
    assert "wssgate cert --install" in r.out
    # the key matches the certificate
    rc1, pub1 = openssl(["x509", "-in", str(cert), "-noout", "-pubkey"])
    rc2, pub2 = openssl(["pkey", "-in", str(key), "-pubout"])
    assert rc1 == 0 and rc2 == 0 and pub1 == pub2


def test_rsa_days_and_file_names(work):
    r = wssgate(work, "cert", "--rsa", "--days", "30", "--cert-file", "c.pem", "--key-file", "k.pem",
                "chat.example.test")
    assert r.rc == 0, r
    text = x509_text(work.path / "c.pem")
    assert "Public-Key: (2048 bit)" in text and "rsaEncryption" in text
    assert "Digital Signature, Key Encipherment" in text
    rc, _ = openssl(["x509", "-in", str(work.path / "c.pem"), "-noout", "-checkend", str(31 * 86400)])
    assert rc != 0
    rc, _ = openssl(["x509", "-in", str(work.path / "c.pem"), "-noout", "-checkend", str(29 * 86400)])
    assert rc == 0


def test_self_signed_has_its_san(work):
    (work.path / "out").mkdir()
    r = wssgate(work, "cert", "--self-signed", "10.1.2.3", "--dir", work.path / "out")
    assert r.rc == 0, r
    cert = work.path / "out" / "10.1.2.3.pem"
    text = x509_text(cert)
    assert "IP Address:10.1.2.3" in text
    issuer = re.search(r"Issuer: (.*)", text).group(1)
    subject = re.search(r"Subject: (.*)", text).group(1)
    assert issuer == subject
    assert cert.read_text().count("BEGIN CERTIFICATE") == 1
    rc, out = openssl(["verify", "-CAfile", str(cert), str(cert)])
    assert rc == 0, out
    assert "self-signed" in r.out
    assert not (work.path / "home" / "ca.pem").exists(), "a self-signed certificate needs no CA"


def test_never_overwrites_without_force(work):
    assert wssgate(work, "cert", "localhost").rc == 0
    before = (work.path / "localhost.pem").read_text()
    r = wssgate(work, "cert", "localhost")
    assert r.rc == 1 and "already exists" in r.err and "--force" in r.err, r
    assert (work.path / "localhost.pem").read_text() == before
    r = wssgate(work, "cert", "--force", "localhost")
    assert r.rc == 0, r
    assert (work.path / "localhost.pem").read_text() != before


def test_usage_errors(work):
    for args, words in [
        ([], "name the certificate"),
        (["bad name"], 'invalid name "bad name": contains a space'),
        (["*.com"], "wildcard"),
        (["--days", "398", "x.test"], "1 to 397"),
        (["--bogus", "x.test"], "unknown option --bogus"),
        (["--cert-file", "a.pem", "x.test"], "go together"),
        (["--show", "x.test"], "takes no NAME"),
        (["--install", "--uninstall"], "one at a time"),
    ]:
        r = wssgate(work, "cert", *args)
        assert r.rc == 2 and words in r.err, (args, r)
    assert not list(work.path.glob("*.pem"))
    r = wssgate(work, "cert", "--help")
    assert r.rc == 0 and "usage: wssgate cert NAME" in r.out


def nss_has(db, nick="wssgate-local-ca"):
    p = subprocess.run(["certutil", "-L", "-d", "sql:%s" % db, "-n", nick], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0


def test_install_show_uninstall(work):
    user = work.path / "user"
    ff = user / ".mozilla" / "firefox" / "abcd.default-release"
    ff.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", "sql:%s" % ff, "--empty-password"], check=True)
    r = wssgate(work, "cert", "--show")
    assert r.rc == 0 and "no local CA yet" in r.out, r

    r = wssgate(work, "cert", "--install")
    assert r.rc == 0, r
    ca = work.path / "home" / "ca.pem"
    trusted = work.path / "trust" / "wssgate-local-ca.crt"
    assert trusted.read_text() == ca.read_text()
    assert "update-ca-certificates not run" in r.out and "WSSGATE_TRUST_DIR" in r.out
    assert nss_has(user / ".pki" / "nssdb") and nss_has(ff), r
    # openssl trusts a leaf through the installed copy
    assert wssgate(work, "cert", "localhost").rc == 0
    rc, out = openssl(["verify", "-CAfile", str(trusted), str(work.path / "localhost.pem")])
    assert rc == 0, out
    # NSS trusts the CA for TLS servers
    p = subprocess.run(["certutil", "-L", "-d", "sql:%s" % (user / ".pki" / "nssdb")],
                       stdout=subprocess.PIPE, text=True, check=True)
    assert re.search(r"wssgate-local-ca\s+C,,", p.stdout), p.stdout

    again = wssgate(work, "cert", "--install")
    assert again.rc == 0 and again.out.count("already there") == 3, again

    r = wssgate(work, "cert", "--show")
    assert r.rc == 0, r
    assert fingerprint(ca) in r.out
    assert r.out.count("trusts it") == 3 and "does not trust" not in r.out, r

    r = wssgate(work, "cert", "--uninstall")
    assert r.rc == 0, r
    assert not trusted.exists()
    assert not nss_has(user / ".pki" / "nssdb") and not nss_has(ff)
    r = wssgate(work, "cert", "--show")
    assert r.out.count("does not trust it") == 3, r


def test_install_names_and_trust_dir_option(work):
    other = work.path / "other-trust"
    r = wssgate(work, "cert", "--install", "--trust-dir", other, "app.test")
    assert r.rc == 0, r
    assert (work.path / "app.test.pem").exists()
    assert (other / "wssgate-local-ca.crt").exists()
    assert not (work.path / "trust").exists()


def test_install_reports_what_fails(work):
    """A system store that cannot be written: the NSS part is still done, exit 1, how to fix said."""
    blocked = work.path / "file-not-dir"
    blocked.write_text("x")
    r = wssgate(work, "cert", "--install", env=user_env(work, WSSGATE_TRUST_DIR=str(blocked)))
    assert r.rc == 1, r
    assert "FAILED" in r.out and str(blocked) in r.out
    assert nss_has(work.path / "user" / ".pki" / "nssdb")
