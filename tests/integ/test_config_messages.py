"""Every error and warning of the nginx-dialect configuration (issue 3, "Errors and lint"), each
with its message and the line it points at, as `wssgate -t -c FILE` prints them:

    wssgate: FILE:LINE: what is wrong; how to fix it            (error: exit 1, nothing started)
    wssgate: FILE:LINE: warning: what will hurt; how to fix it  (the configuration still loads)

plus: a bad configuration never starts, and docs/config.md is the output of `--directives`.
"""
import re
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from helpers import (REPO, conf_messages, conf_test, free_port, host_cert,
                     port_open, simple_get, wssgate_bin)

NO_LEAK_CHECK = "detect_leaks=0:abort_on_error=1"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Certificates from one local CA: names -> (cert, key)."""
    home = tmp_path_factory.mktemp("conf-certs")
    return {n: host_cert(home, n) for n in ("localhost", "www.joshua317.com", "im.joshua317.com")}


def lint(work, text, files=None, asan_options=None):
    """Writes c.conf (and other files) in the work dir, runs `wssgate -t -c c.conf` there:
    (exit status, stderr, [(line, is_warning, text)])."""
    for name, body in (files or {}).items():
        p = work.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body)
    (work.path / "c.conf").write_text(text)
    status, err = conf_test("c.conf", cwd=work.path, asan_options=asan_options)
    return status, err, conf_messages(err, None)


def expect_error(work, text, line, fragment, files=None, file="c.conf", asan_options=None):
    status, err, _ = lint(work, text, files, asan_options)
    assert status == 1, err
    lines = err.strip().splitlines()
    assert lines[-1] == "wssgate: configuration file c.conf test failed", err
    errors = [ln for ln in lines[:-1] if ": warning: " not in ln]
    assert len(errors) == 1, err  # one error, the first one found, and it stops the load
    want = "wssgate: %s:%d: %s" % (file, line, fragment)
    assert errors[0].startswith(want), "want: %s\ngot:  %s" % (want, errors[0])
    return err


def expect_warning(work, text, line, fragment, files=None, count=1, file="c.conf"):
    status, err, msgs = lint(work, text, files)
    assert status == 0, err
    assert err.strip().splitlines()[-1] == "wssgate: configuration file c.conf test is successful"
    want = "wssgate: %s:%d: warning: %s" % (file, line, fragment)
    hits = [ln for ln in err.splitlines() if ln.startswith(want)]
    assert len(hits) == count, "want %d x: %s\ngot:\n%s" % (count, want, err)
    return err, msgs


def no_warnings(work, text, files=None):
    status, err, msgs = lint(work, text, files)
    assert status == 0, err
    assert not msgs, err
    assert err.strip().splitlines() == ["wssgate: the configuration file c.conf syntax is ok",
                                        "wssgate: configuration file c.conf test is successful"]


def server(*body, listen="listen 127.0.0.1:8080;"):
    """A server block, one directive a line: line 1 `server {`, line 2 the listen, the body from
    line 3."""
    return "server {\n%s\n%s\n}\n" % (listen, "\n".join(body))


# ---------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("typo, right", [
    ("proxy_pas", "proxy_pass"), ("proxy_set_headr", "proxy_set_header"),
    ("server_nmae", "server_name"), ("ssl_certficate", "ssl_certificate"),
    ("proxy_read_timout", "proxy_read_timeout"),
])
def test_unknown_directive_with_did_you_mean(work, typo, right):
    expect_error(work, server("location / {", "%s 1;" % typo, "}"), 4,
                 'unknown directive "%s"; did you mean "%s"?' % (typo, right))


def test_unknown_directive_without_a_close_name(work):
    expect_error(work, server("frobnicate_everything on;"), 3,
                 'unknown directive "frobnicate_everything"; see docs/config.md')


@pytest.mark.parametrize("directive", [
    "if ($http_x_test) { return 404; }", "proxy_cache my_zone;", "limit_req zone=one;",
    "auth_basic \"closed\";", "proxy_redirect off;", "set $x 1;",
])
def test_nginx_directive_not_implemented_is_an_error_that_names_it(work, directive):
    name = directive.split()[0]
    expect_error(work, server("location / {", directive, "}"), 4,
                 '"%s" is an nginx directive that wssgate does not implement; remove it '
                 '(docs/config.md lists what is supported)' % name)


@pytest.mark.parametrize("text, line, fragment", [
    (server("proxy_pass http://127.0.0.1:9502;"), 3,
     '"proxy_pass" is not allowed in server; it belongs in location'),
    (server("location / {", "listen 8081;", "}"), 4,
     '"listen" is not allowed in location; it belongs in server'),
    ("http {\nworker_processes 2;\n}\n" + server(), 2,
     '"worker_processes" is not allowed in http; it belongs in the main context'),
    (server("upstream x { server 127.0.0.1:1; }"), 3,
     '"upstream" is not allowed in server; it belongs in the main context, http'),
    (server("alias /tmp/;"), 3, '"alias" is not allowed in server; it belongs in location'),
], ids=["proxy_pass-in-server", "listen-in-location", "worker_processes-in-http",
        "upstream-in-server", "alias-in-server"])
def test_wrong_context(work, text, line, fragment):
    expect_error(work, text, line, fragment)


@pytest.mark.parametrize("text, line, fragment", [
    (server("server_name;"), 3, 'wrong number of arguments in "server_name"; syntax: server_name NAME ...'),
    (server("location / {", "proxy_pass;", "}"), 4,
     'wrong number of arguments in "proxy_pass"; syntax: proxy_pass URL'),
    (server("root /a /b;"), 3, 'wrong number of arguments in "root"; syntax: root PATH'),
    (server("location / {", "proxy_set_header Host;", "}"), 4,
     'wrong number of arguments in "proxy_set_header"; syntax: proxy_set_header NAME VALUE'),
    (server("location /;"), 3, '"location" needs a block: location [= | ^~ | ~ | ~*] URI'),
    (server("root /tmp { }"), 3, '"root" takes no block; end it with ";" (root PATH)'),
], ids=["server_name", "proxy_pass", "root", "proxy_set_header", "location-without-block",
        "root-with-block"])
def test_wrong_arity_or_block(work, text, line, fragment):
    expect_error(work, text, line, fragment)


@pytest.mark.parametrize("text, line, fragment", [
    (server("keepalive_timeout 5x;"), 3,
     'invalid time "5x" in "keepalive_timeout"; write it like 60s, 5m or 500ms'),
    (server("location / {", "proxy_pass http://127.0.0.1:9502;", "proxy_read_timeout -5s;", "}"), 5,
     'invalid time "-5s" in "proxy_read_timeout"; write it like 60s or 5m'),
    (server("client_max_body_size 5q;"), 3,
     'invalid size "5q"; write it like 1m, 512k or 0 (no limit)'),
    (server("proxy_buffering maybe;"), 3, '"proxy_buffering" takes "on" or "off", not "maybe"'),
    (server("return 1000;"), 3, 'invalid return code "1000"'),
    (server("location / {", "return abc;", "}"), 4, 'invalid return code "abc"'),
    (server(listen="listen 70000;"), 2, 'invalid port in "listen 70000"; use 1-65535'),
    (server(listen="listen 127.0.0.1:0;"), 2,
     'invalid "listen 127.0.0.1:0": the port must be a number from 1 to 65535'),
    (server(listen="listen 8080 http2;"), 2, '"listen ... http2" is not supported'),
    (server("expires 3x;"), 3, 'invalid expires "3x"; write it like 3d, 1h, epoch, max or off'),
    (server("location / {", "rewrite ^ /x bogus;", "}"), 4,
     'invalid rewrite flag "bogus"; use last, break, redirect or permanent'),
    ("worker_processes lots;\n" + server(), 1,
     'invalid worker_processes "lots"; use a number from 1 to 256 or "auto"'),
], ids=["time", "negative-time", "size", "flag", "return-1000", "return-abc", "listen-70000",
        "listen-0", "listen-http2", "expires", "rewrite-flag", "worker_processes"])
def test_bad_value(work, text, line, fragment):
    expect_error(work, text, line, fragment)


def test_unknown_upstream(work):
    text = ("upstream im-app {\nserver 127.0.0.1:9502;\n}\n"
            "server {\nlisten 127.0.0.1:8080;\nlocation / {\nproxy_pass http://im-ap;\n}\n}\n")
    expect_error(work, text, 7, 'no upstream "im-ap" is defined, and it is not a host:port; add '
                                '"upstream im-ap { server 127.0.0.1:9502; }" or fix the name')


def test_duplicate_upstream(work):
    text = "upstream a {\nserver 127.0.0.1:1;\n}\nupstream a {\nserver 127.0.0.1:2;\n}\n" + server()
    expect_error(work, text, 4, 'duplicate upstream "a" (first at c.conf:1); rename one')


def test_unreadable_certificate(work, certs):
    _, key = certs["localhost"]
    for bad in ("/nonexistent/cert.pem", str(work.path)):
        expect_error(work, server("ssl_certificate %s;" % bad, "ssl_certificate_key %s;" % key,
                                  listen="listen 127.0.0.1:8443 ssl;"),
                     3, 'cannot load certificate "%s"' % bad)
    (work.path / "garbage.pem").write_text("this is not a certificate\n")
    err = expect_error(work, server("ssl_certificate %s;" % (work.path / "garbage.pem"),
                                    "ssl_certificate_key %s;" % key,
                                    listen="listen 127.0.0.1:8443 ssl;"),
                       3, 'cannot load certificate "%s"' % (work.path / "garbage.pem"))
    assert "check the paths" in err


def test_ssl_listen_without_certificate(work):
    expect_error(work, server(listen="listen 127.0.0.1:8443 ssl;"), 1,
                 'this server listens with ssl but has no ssl_certificate; add "ssl_certificate '
                 'FILE;" and "ssl_certificate_key FILE;"')


def key_mismatch_conf(certs):
    cert, _ = certs["www.joshua317.com"]
    _, other_key = certs["im.joshua317.com"]
    return server("server_name www.joshua317.com;", "ssl_certificate %s;" % cert,
                  "ssl_certificate_key %s;" % other_key, listen="listen 127.0.0.1:8443 ssl;"), other_key


def test_key_not_matching_certificate(work, certs):
    text, other_key = key_mismatch_conf(certs)
    status, err, msgs = lint(work, text)
    assert status == 1, err
    errors = [m for m in msgs if not m[1]]
    assert len(errors) == 1, err
    line, _, msg = errors[0]
    assert msg.startswith('cannot load key "%s": key values mismatch; check the paths and that the '
                          'key belongs to the certificate' % other_key), err
    assert line == 5, err  # the ssl_certificate_key line


def test_key_not_matching_certificate_points_at_the_key_line(work, certs):
    text, other_key = key_mismatch_conf(certs)
    expect_error(work, text, 5, 'cannot load key "%s": key values mismatch' % other_key)


def test_duplicate_listen_in_a_server(work):
    expect_error(work, server("listen 127.0.0.1:8080;"), 3,
                 "duplicate listen 127.0.0.1:8080 in this server (line 2); remove one")
    expect_error(work, server("listen 0.0.0.0:8080;", listen="listen 8080;"), 3,
                 "duplicate listen 0.0.0.0:8080 in this server (line 2); remove one")


DUP_DEFAULT = ("server {\nlisten 127.0.0.1:8080 default_server;\n}\n"
               "server {\nlisten 127.0.0.1:8080 default_server;\nserver_name b;\n}\n")


def test_duplicate_default_server(work):
    # leaks are checked in test_errors_while_building_listeners_free_what_they_built
    expect_error(work, DUP_DEFAULT, 5, "a duplicate default server for 127.0.0.1:8080 (the first "
                                       "is at c.conf:2); keep one default_server",
                 asan_options=NO_LEAK_CHECK)


def test_ssl_stapling_on_says_no_ocsp_response_is_sent(work):
    text = "server {\nlisten 127.0.0.1:8080;\nssl_stapling on;\nssl_stapling_verify on;\n}\n"
    expect_warning(work, text, 3, "OCSP stapling is not built: no OCSP response is sent in the "
                                  "handshake")
    status, err, _ = lint(work, text.replace("ssl_stapling on", "ssl_stapling off"))
    assert status == 0 and ": warning: " not in err, err


def test_conflicting_server_name_is_a_warning(work):
    text = ("server {\nlisten 127.0.0.1:8080;\nserver_name a.example;\n}\n"
            "server {\nlisten 127.0.0.1:8080;\nserver_name a.example;\n}\n")
    expect_warning(work, text, 7, 'conflicting server name "a.example" on 127.0.0.1:8080, ignored')


def mixed_ssl_conf(certs):
    cert, key = certs["localhost"]
    return ("server {\nlisten 127.0.0.1:8443 ssl;\nssl_certificate %s;\nssl_certificate_key %s;\n}\n"
            "server {\nlisten 127.0.0.1:8443;\nserver_name b;\n}\n" % (cert, key))


def test_plain_server_on_an_ssl_address_needs_a_certificate(work, certs):
    expect_error(work, mixed_ssl_conf(certs), 6,
                 "this server listens with ssl but has no ssl_certificate",
                 asan_options=NO_LEAK_CHECK)


@pytest.mark.parametrize("name, why", [("~(", 'invalid regex "(": missing closing parenthesis'),
                                       ("a..b", 'invalid server name or wildcard "a..b"')])
def test_invalid_server_name(work, name, why):
    status, err, msgs = lint(work, server("server_name %s;" % name), asan_options=NO_LEAK_CHECK)
    assert status == 1, err
    errors = [m for m in msgs if not m[1]]
    assert len(errors) == 1 and errors[0][2].startswith(why), err
    assert errors[0][0] == 3, err  # the server_name line


def test_invalid_server_name_points_at_the_server_name_line(work):
    expect_error(work, server("server_name ~(;"), 3, 'invalid regex "(": missing closing parenthesis',
                 asan_options=NO_LEAK_CHECK)


@pytest.mark.parametrize("case", ["duplicate-default-server", "invalid-server-name",
                                  "plain-server-on-ssl-address"])
def test_errors_while_building_listeners_free_what_they_built(work, certs, case):
    text = {"duplicate-default-server": DUP_DEFAULT,
            "invalid-server-name": server("server_name ~(;"),
            "plain-server-on-ssl-address": mixed_ssl_conf(certs)}[case]
    status, err, _ = lint(work, text)  # conf_test fails on a sanitizer report
    assert status == 1, err


@pytest.mark.parametrize("loc, uri", [("~ ^/api/", "/x/"), ("~* \\.php$", "/php"), ("@named", "/y")])
def test_uri_in_proxy_pass_of_a_regex_or_named_location(work, loc, uri):
    expect_error(work, server("location %s {" % loc, "proxy_pass http://127.0.0.1:9502%s;" % uri, "}"),
                 4, '"proxy_pass" cannot have a URI part in a location given by a regular expression '
                    'or a named location; remove "%s" from the URL' % uri)


def test_regex_location_without_uri_in_proxy_pass_is_fine(work):
    no_warnings(work, server("location ~ ^/api/ {", "proxy_pass http://127.0.0.1:9502;", "}"))


@pytest.mark.parametrize("text, line, fragment", [
    (server("location / {", "proxy_pass http://127.0.0.1:1;")[:-2], 4,
     'unexpected end of file, expecting "}"; the "location /" block opened on line 3 is not '
     'closed: add the missing "}"'),
    (server('return 200 "abc;'), 3,
     'unterminated quoted string: the " opened here is never closed; add the closing "'),
    (server("location / {", "proxy_pass http://127.0.0.1:1", "}"), 5,
     'unexpected "}": directive "proxy_pass" (line 4) is not terminated; end it with ";"'),
    (server("return 204;") + "}\n", 5, 'unexpected "}": no block is open here; remove it'),
], ids=["unterminated-block", "unterminated-quote", "missing-semicolon", "extra-brace"])
def test_parser_errors(work, text, line, fragment):
    expect_error(work, text, line, fragment)


def test_include_of_a_missing_file(work):
    expect_error(work, server("include nothere.conf;"), 3,
                 'include "nothere.conf": No such file (looked for ')


def test_include_glob_matching_nothing_is_fine(work):
    no_warnings(work, server("include conf.d/*.conf;"))


def test_error_inside_an_included_file_names_that_file_and_line(work):
    files = {"inc/loc.conf": "location / {\n  proxy_pass http://127.0.0.1:9502;\n  bogus_directive 1;\n}\n"}
    expect_error(work, server("include inc/*.conf;"), 3, 'unknown directive "bogus_directive"',
                 files=files, file="inc/loc.conf")


def test_error_log_that_cannot_be_opened(work):
    """As nginx -t: the main error_log is opened by the test, so a bad path fails it (and the
    start, and a reload) instead of the running server logging to stderr. (It used to pass.)"""
    expect_error(work, "error_log nodir/error.log warn;\n" + server(), 1,
                 'cannot open error log "nodir/error.log": No such file or directory; create its '
                 'directory or fix the path')
    no_warnings(work, "error_log logs/error.log;\n" + server(), files={"logs/.keep": ""})
    assert (work.path / "logs" / "error.log").exists()


def test_error_log_stderr_and_syslog(work):
    """`stderr` is stderr, not a file of that name; syslog: and memory: are not built, so they
    get a warning and stderr rather than a file named after them."""
    no_warnings(work, "error_log stderr warn;\n" + server())
    expect_warning(work, "error_log syslog:server=unix:/dev/log;\n" + server(), 1,
                   "error_log to syslog is not built; wssgate logs to stderr instead")
    assert sorted(p.name for p in work.path.iterdir()) == ["c.conf"]


def test_a_bad_config_never_starts(work):
    port = free_port()
    conf = work.path / "bad.conf"
    conf.write_text("server {\nlisten 127.0.0.1:%d;\nlocation / {\nproxy_pas http://127.0.0.1:1;\n}\n}\n"
                    % port)
    t = time.monotonic()
    p = subprocess.run([wssgate_bin(), "-c", str(conf)], cwd=str(work.path), timeout=20,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.monotonic() - t
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 1, err
    assert took < 5, took
    assert '%s:4: unknown directive "proxy_pas"; did you mean "proxy_pass"?' % conf in err, err
    assert "listening" not in err
    assert not port_open("127.0.0.1", port)


def test_a_config_with_only_warnings_starts(work, start_gateway):
    port = free_port()
    conf = work.path / "warn.conf"
    conf.write_text(server("location / {", "proxy_pass http://127.0.0.1:9;",
                           "proxy_set_header Upgrade $http_upgrade;", "return 204;", "}",
                           listen="listen 127.0.0.1:%d;" % port))
    g = start_gateway(["-c", str(conf)], "127.0.0.1", [port])
    assert '%s:5: warning: "proxy_set_header Upgrade" is not needed' % conf in g.stderr()


@pytest.mark.parametrize("directive", [
    "ssl_certificate {cert}", "ssl_certificate_key {key}", "ssl on", "ssl_ciphers HIGH",
    "ssl_prefer_server_ciphers on", "ssl_session_timeout 10m", "ssl_protocols TLSv1.2 TLSv1.3",
    "ssl_session_cache shared:SSL:10m"])
def test_ssl_directives_at_the_http_level(work, certs, directive):
    """Each ssl_* directive nginx takes in http is taken there. (All but two crashed -t with a
    segmentation fault: they wrote to the server being read, and there was none.)"""
    cert, key = certs["localhost"]
    text = "http {\n%s;\n%s}\n" % (directive.format(cert=cert, key=key), server(
        "server_name localhost;", "ssl_certificate %s;" % cert, "ssl_certificate_key %s;" % key,
        listen="listen 127.0.0.1:8443 ssl;"))
    status, err, msgs = lint(work, text)
    assert status == 0, err
    assert all(line == 2 for line, _, _ in msgs), err  # only the directive's own warning, if any


def test_unknown_ecdh_curve(work, certs):
    cert, key = certs["localhost"]
    expect_error(work, "http {\nssl_ecdh_curve X25519:prime257v1;\n%s}\n" % server(
        "ssl_certificate %s;" % cert, "ssl_certificate_key %s;" % key,
        listen="listen 127.0.0.1:8443 ssl;"), 2,
        'unknown curve in ssl_ecdh_curve "X25519:prime257v1"; use names like '
        'X25519:prime256v1:secp384r1, or auto')


def test_servers_inherit_the_http_level_certificate(work, certs, start_gateway):
    """The usual nginx layout: one certificate (and cipher list) in http for every TLS server,
    and a plain server redirecting to https. The TLS servers use it; the plain one is not told
    that it has a certificate without TLS; the cipher warning is given once, at its line."""
    cert, key = certs["localhost"]
    tls_port, plain_port = free_port(), free_port()
    text = ("http {\n"
            "ssl_certificate %s;\nssl_certificate_key %s;\nssl_ciphers HIGH:RC4;\n"
            "server {\nlisten 127.0.0.1:%d ssl;\nserver_name localhost;\n"
            "location / { return 200 \"inherited\"; }\n}\n"
            "server {\nlisten 127.0.0.1:%d;\nserver_name localhost;\n"
            "return 301 https://localhost:%d$request_uri;\n}\n"
            "}\n" % (cert, key, tls_port, plain_port, tls_port))
    status, err, msgs = lint(work, text)
    assert status == 0, err
    assert [(line, warn) for line, warn, _ in msgs] == [(4, True)], err
    assert "weak ciphers dropped from ssl_ciphers: RC4" in err
    g = start_gateway(["-c", str(work.path / "c.conf")], "localhost", [tls_port, plain_port])
    ctx = ssl.create_default_context(cafile=str(Path(cert).parent.parent / "ca.pem"))
    with g.connect(tls=True, ctx=ctx) as c:
        c.send(simple_get("/", "localhost"))
        r = c.read_response()
    assert (r.status, r.body) == (200, b"inherited")
    with g.connect(tls=False, port=plain_port) as c:
        c.send(simple_get("/x", "localhost"))
        r = c.read_response()
    assert r.status == 301 and r.header("Location") == "https://localhost:%d/x" % tls_port


# ---------------------------------------------------------------------------------------------
# warnings

def test_certificate_without_listen_ssl(work, certs):
    cert, key = certs["localhost"]
    expect_warning(work, server("server_name localhost;", "ssl_certificate %s;" % cert,
                                "ssl_certificate_key %s;" % key),
                   4, 'TLS is not enabled on this server: it has a certificate but no "listen ... '
                      'ssl", so it speaks plain HTTP (and https pages will be blocked from ws:// as '
                      'mixed content). Write "listen 443 ssl;"')


def test_ssl_on(work, certs):
    cert, key = certs["localhost"]
    expect_warning(work, server("server_name localhost;", "ssl on;", "ssl_certificate %s;" % cert,
                                "ssl_certificate_key %s;" % key),
                   4, '"ssl on" is deprecated (nginx removed it in 1.25); write "listen 443 ssl;" '
                      'instead. wssgate treats every listen of this server as ssl')


@pytest.mark.parametrize("protocols, refused", [
    ("SSLv2 SSLv3 TLSv1.2", "SSLv2, SSLv3"), ("TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", "TLSv1, TLSv1.1"),
    ("TLSv1.1 TLSv1.2", "TLSv1.1"),
])
def test_old_protocols_refused(work, certs, protocols, refused):
    cert, key = certs["localhost"]
    err, msgs = expect_warning(
        work, server("server_name localhost;", "ssl_certificate %s;" % cert,
                     "ssl_certificate_key %s;" % key, "ssl_protocols %s;" % protocols,
                     listen="listen 127.0.0.1:8443 ssl;"),
        6, '%s refused: these protocols are broken (POODLE, BEAST, weak MACs) and browsers no longer '
           'accept them; wssgate serves TLSv1.2 and TLSv1.3 only' % refused)
    assert len(msgs) == 1, err


def test_only_old_protocols_fall_back_to_modern_ones(work, certs):
    cert, key = certs["localhost"]
    err, msgs = expect_warning(
        work, server("server_name localhost;", "ssl_certificate %s;" % cert,
                     "ssl_certificate_key %s;" % key, "ssl_protocols SSLv3;",
                     listen="listen 127.0.0.1:8443 ssl;"),
        6, "no protocol left after refusing the old ones: TLSv1.2 and TLSv1.3 are used")
    assert "SSLv3 refused" in err


@pytest.mark.parametrize("ciphers, dropped", [
    ("RC4-SHA:ECDHE-RSA-AES128-GCM-SHA256", "RC4-SHA"), ("EXP-RC4-MD5:HIGH", "EXP-RC4-MD5"),
    ("NULL-SHA256:HIGH", "NULL-SHA256"), ("HIGH:MD5", "MD5"),
    ("ECDHE+AESGCM:DES-CBC-SHA", "DES-CBC-SHA"), ("HIGH:DES-CBC3-SHA", "DES-CBC3-SHA"),
    ("ADH-AES128-SHA:HIGH", "ADH-AES128-SHA"),
])
def test_weak_ciphers_dropped(work, certs, ciphers, dropped):
    cert, key = certs["localhost"]
    expect_warning(work, server("server_name localhost;", "ssl_certificate %s;" % cert,
                                "ssl_certificate_key %s;" % key, "ssl_ciphers %s;" % ciphers,
                                listen="listen 127.0.0.1:8443 ssl;"),
                   6, "weak ciphers dropped from ssl_ciphers: %s (RC4, EXPORT, NULL, MD5, DES/3DES "
                      "and anonymous suites are broken or refused by browsers)" % dropped)


def test_exclusions_of_weak_ciphers_are_not_warned(work, certs):
    cert, key = certs["localhost"]
    no_warnings(work, server("server_name localhost;", "ssl_certificate %s;" % cert,
                             "ssl_certificate_key %s;" % key, "ssl_ciphers HIGH:!aNULL:!MD5:!RC4;",
                             "ssl_protocols TLSv1.2 TLSv1.3;", listen="listen 127.0.0.1:8443 ssl;"))


def test_certificate_names_not_covering_server_name(work, certs):
    cert, key = certs["www.joshua317.com"]
    err, msgs = expect_warning(
        work, server("server_name www.joshua317.com joshua317.com *.joshua317.com ~^re$ _;",
                     "ssl_certificate %s;" % cert, "ssl_certificate_key %s;" % key,
                     listen="listen 127.0.0.1:8443 ssl;"),
        4, 'certificate "%s" does not cover server_name "joshua317.com": browsers will show '
           'NET::ERR_CERT_COMMON_NAME_INVALID. Issue one that names it (wssgate cert joshua317.com)'
           % cert)
    assert 'does not cover server_name "*.joshua317.com"' in err
    # the covered name, the regex and the catch-all are not warned about
    assert len(msgs) == 2, err


def test_websocket_location_with_a_short_read_timeout(work):
    err, msgs = expect_warning(
        work, server("location /ws {", "proxy_pass http://127.0.0.1:9502;", "proxy_read_timeout 30s;", "}"),
        3, 'WebSocket location "/ws" has proxy_read_timeout 30s: an idle chat is cut after that; '
           'use 1h or more')
    assert len(msgs) == 1, err
    no_warnings(work, server("location /ws {", "proxy_pass http://127.0.0.1:9502;",
                             "proxy_read_timeout 3600s;", "}"))


@pytest.mark.parametrize("header, value", [("Upgrade", "$http_upgrade"), ("Connection", '"upgrade"'),
                                           ("Connection", "$connection_upgrade")])
def test_upgrade_and_connection_lines_are_not_needed(work, header, value):
    mp = ("map $http_upgrade $connection_upgrade {\ndefault upgrade;\n'' close;\n}\n"
          if "connection_upgrade" in value else "")
    text = mp + server("location /chat {", "proxy_pass http://127.0.0.1:9502;",
                       "proxy_set_header %s %s;" % (header, value), "}")
    err, msgs = expect_warning(
        work, text, mp.count("\n") + 5,
        '"proxy_set_header %s" is not needed: wssgate forwards genuine WebSocket upgrades by itself '
        'and owns this hop-by-hop header (the line is accepted and has no effect)' % header)
    assert len(msgs) == 1, err


@pytest.mark.parametrize("first, second", [("Host", "Host"), ("X-Real-IP", "x-real-ip")])
def test_header_set_twice(work, first, second):
    err, msgs = expect_warning(
        work, server("location / {", "proxy_pass http://127.0.0.1:9502;",
                     "proxy_set_header %s $host;" % first, "proxy_set_header %s $http_host;" % second, "}"),
        6, 'header "%s" is set twice in this block: nginx would send two "%s" lines' % (second, second))
    assert len(msgs) == 1, err


def test_same_header_in_different_blocks_is_not_twice(work):
    no_warnings(work, server("proxy_set_header Host $host;", "location / {",
                             "proxy_pass http://127.0.0.1:9502;", "proxy_set_header Host $http_host;", "}"))


def test_shadowed_dotfile_deny(work):
    err, msgs = expect_warning(
        work, server("location ~ \\.(txt|ini)$ {", "expires 1d;", "}", "location ~ /\\. {", "deny all;", "}"),
        6, 'this deny is shadowed: "/.secret.txt" is served by c.conf:3 location ~ \\.(txt|ini)$, '
           'because regex locations are tried in order and that one comes first. Move this location '
           'above it')
    assert len(msgs) == 1, err
    # in the right order, nothing to say
    no_warnings(work, server("location ~ /\\. {", "deny all;", "}", "location ~ \\.(txt|ini)$ {",
                             "expires 1d;", "}"))


def test_websocket_location_with_slash_gets_a_301_warning(work):
    err, msgs = expect_warning(
        work, server("location /websocket/ {", "proxy_pass http://127.0.0.1:9502;", "}"),
        3, 'a page connecting to "/websocket" (without the slash) gets a 301, and browsers never '
           'follow redirects in a WebSocket handshake ("Unexpected response code: 301"). Connect to '
           '"/websocket/" or add "location = /websocket { proxy_pass ...; }"')
    assert len(msgs) == 1, err
    # the suggested fix silences it
    no_warnings(work, server("location /websocket/ {", "proxy_pass http://127.0.0.1:9502;", "}",
                             "location = /websocket {", "proxy_pass http://127.0.0.1:9502;", "}"))


def test_clean_websocket_config_has_no_warning(work, certs):
    cert, key = certs["localhost"]
    no_warnings(work, "upstream chat {\nserver 127.0.0.1:9502;\n}\n" + server(
        "server_name localhost;", "ssl_certificate %s;" % cert, "ssl_certificate_key %s;" % key,
        "ssl_protocols TLSv1.2 TLSv1.3;", "location /websocket {", "proxy_pass http://chat;",
        "proxy_read_timeout 1h;", "proxy_set_header X-Real-IP $remote_addr;", "}",
        listen="listen 127.0.0.1:8443 ssl;"))


def test_warnings_and_an_error_together(work):
    """Warnings found before the error are printed; the error is last and the test fails."""
    status, err, msgs = lint(work, server("location / {", "proxy_pass http://127.0.0.1:9502;",
                                          "proxy_set_header Upgrade $http_upgrade;", "}",
                                          "location /x {", "proxy_pas http://127.0.0.1:9502;", "}"))
    assert status == 1
    assert (5, True, '"proxy_set_header Upgrade" is not needed: wssgate forwards genuine WebSocket '
                     'upgrades by itself and owns this hop-by-hop header (the line is accepted and '
                     'has no effect)') in msgs, err
    assert (8, False, 'unknown directive "proxy_pas"; did you mean "proxy_pass"?') in msgs, err


# ---------------------------------------------------------------------------------------------
# the directive table and its documentation

def test_docs_config_md_is_the_output_of_directives():
    p = subprocess.run([wssgate_bin(), "--directives"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, p.stderr
    doc = (REPO / "docs" / "config.md").read_bytes()
    assert p.stdout == doc, "docs/config.md differs from `wssgate --directives`; regenerate it"


def test_every_directive_named_in_messages_is_documented():
    """The directives the tests above use are all in the table or in the error list."""
    doc = (REPO / "docs" / "config.md").read_text()
    for name in ("proxy_pass", "proxy_set_header", "proxy_read_timeout", "listen", "ssl",
                 "ssl_protocols", "ssl_ciphers", "fastcgi_pass", "map", "upstream", "expires"):
        assert "| `%s` |" % name in doc, name
    for name in ("if", "proxy_cache", "limit_req", "auth_basic", "proxy_redirect", "set"):
        assert "`%s`" % name in doc.split("nginx directives that are an error")[1], name


def doc_list(heading):
    doc = (REPO / "docs" / "config.md").read_text()
    part = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`([a-z_0-9]+)`", part)


def test_every_documented_harmless_directive_is_accepted_silently(work):
    names = doc_list("## Accepted and ignored")
    assert len(names) > 20 and "sendfile" in names and "gzip" in names
    no_warnings(work, "http {\n%s\n%s}\n" % ("\n".join("%s on;" % n for n in names), server()))


@pytest.mark.parametrize("context", ["main", "location"])
def test_every_documented_unsupported_directive_is_an_error_naming_it(work, context):
    names = doc_list("## nginx directives that are an error")
    assert "if" in names and "proxy_cache" in names and len(names) > 20
    for n in names:
        if context == "main":
            text, line = "%s x;\n%s" % (n, server()), 1
        else:
            text, line = server("location / {", "%s x;" % n, "}"), 4
        expect_error(work, text, line, '"%s" is an nginx directive that wssgate does not implement' % n)


def test_dash_T_prints_the_configuration_with_includes_expanded(work):
    (work.path / "inc").mkdir()
    (work.path / "inc" / "loc.conf").write_text("location / {\n  return 204;\n}\n")
    (work.path / "c.conf").write_text(server("include inc/*.conf;"))
    p = subprocess.run([wssgate_bin(), "-T", "-c", "c.conf"], cwd=str(work.path), timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr
    assert "return 204;" in out and "inc/loc.conf:2" in out, out
    assert p.stderr.decode().strip().splitlines()[-1].endswith("test is successful")
