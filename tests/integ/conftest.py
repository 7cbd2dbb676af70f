"""Fixtures of wssgate's integration tests.

Every test gets its own temporary directory (kept when it failed and WSSGATE_KEEP_TMP=1), a fresh
WSSGATE_HOME inside it, and processes on free loopback ports that are stopped by PID at teardown.
A gateway is stopped with SIGTERM; it must exit 0 within 15 s and print no sanitizer report.
"""
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import BACKENDS, NODE, PYTHON, Backend, Gateway, free_port, wssgate_bin  # noqa: E402
from helpers import RawBackend, is_sanitized_binary  # noqa: E402

# 1,000 concurrent tunnels need ~2,000 descriptors in the gateway and 1,000 here; children inherit.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != resource.RLIM_INFINITY and (_hard == resource.RLIM_INFINITY or _soft < _hard):
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard if _hard != resource.RLIM_INFINITY else 65536, _hard))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "release_build: measures what ASan changes (the allocator, RSS); skipped "
        "against the ASan build, run by scripts/run-tests against the plain build")


def pytest_collection_modifyitems(config, items):
    if not is_sanitized_binary():
        return
    skip = pytest.mark.skip(reason="needs the plain build (ASan has its own allocator); "
                            "scripts/run-tests runs it against build/wssgate")
    for item in items:
        if "release_build" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    b = wssgate_bin()
    return "wssgate binary: %s (%s)" % (b, "present" if os.access(b, os.X_OK) else "MISSING")


class Work:
    def __init__(self, path):
        self.path = path
        self.procs = []  # started by this test, stopped (by PID) in reverse order at teardown


@pytest.fixture
def work(request):
    path = Path(tempfile.mkdtemp(prefix="wssgate-integ-"))
    w = Work(path)
    yield w
    problems = []
    for p in reversed(w.procs):
        p.stop()
        if p.checked:
            problems += p.problems()
    reports = [getattr(request.node, "rep_" + when, None) for when in ("setup", "call")]
    failed = bool(problems) or any(r is not None and r.failed for r in reports)
    if failed and os.environ.get("WSSGATE_KEEP_TMP") == "1":
        sys.stderr.write("\nkept temp dir of %s: %s\n" % (request.node.nodeid, path))
    else:
        shutil.rmtree(path, ignore_errors=True)
    assert not problems, "\n".join(problems)


def gateway_env(home):
    env = dict(os.environ)
    env["WSSGATE_HOME"] = str(home)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


@pytest.fixture
def start_gateway(work):
    """start_gateway(args, host='localhost', ports=[...]) starts `wssgate ARGS...` and waits for ports."""
    def start(args, host, ports, home=None):
        binary = wssgate_bin()
        if not os.access(binary, os.X_OK):
            pytest.fail("wssgate binary not found at %s (set WSSGATE_BIN or build it)" % binary)
        home = home or (work.path / "home")
        home.mkdir(exist_ok=True)
        n = sum(isinstance(p, Gateway) for p in work.procs)
        name = "wssgate%d" % (n + 1) if n else "wssgate"
        g = Gateway(name, [binary] + list(args), work.path, home, host, ports, gateway_env(home))
        work.procs.append(g)
        try:
            g.wait_ports(host, ports, timeout=10)
        except AssertionError:
            g.checked = False  # its failure to start is the error; no second report at teardown
            raise
        return g
    return start


@pytest.fixture
def proxy(start_gateway):
    """proxy(to, *extra, scheme='https', path='/') -> Gateway running `wssgate proxy --from --to`."""
    def start(to, *extra, scheme="https", path="/", host="localhost", port=None):
        port = port or free_port()
        frm = "%s://%s:%d%s" % (scheme, host, port, path)
        g = start_gateway(["proxy", "--from", frm, "--to", to] + list(extra), host, [port])
        g.frm, g.to, g.scheme = frm, to, scheme
        return g
    return start


def _backend(work, name, argv, port):
    log = work.path / ("%s.log" % name)
    b = Backend(name, argv + ["--log", str(log)], work.path, port, log)
    work.procs.append(b)
    return b


@pytest.fixture
def http_backend(work):
    """http_backend() -> Backend running tests/backends/http_backend.py on a free port."""
    n = [0]

    def start(*extra):
        n[0] += 1
        port = free_port()
        b = _backend(work, "http_backend%d" % n[0],
                     [PYTHON, BACKENDS / "http_backend.py", "--port", str(port)] + list(extra), port)
        b.url = "http://127.0.0.1:%d" % port
        return b
    return start


@pytest.fixture
def ws_backend(work):
    """ws_backend(*extra) -> Backend running tests/backends/ws_echo.py on a free port."""
    n = [0]

    def start(*extra):
        n[0] += 1
        port = free_port()
        b = _backend(work, "ws_echo%d" % n[0],
                     [PYTHON, BACKENDS / "ws_echo.py", "--port", str(port)] + list(extra), port)
        b.url = "ws://127.0.0.1:%d" % port
        return b
    return start


@pytest.fixture
def node_ws_backend(work):
    def start():
        port = free_port()
        b = Backend("ws_echo_node", [NODE, BACKENDS / "ws_echo.mjs", "--port", str(port)], work.path, port,
                    work.path / "ws_echo_node.log")
        work.procs.append(b)
        b.url = "ws://127.0.0.1:%d" % port
        return b
    return start


@pytest.fixture
def gw_http(proxy, http_backend):
    """A gateway (https://localhost:P/) in front of a fresh http_backend; gw.backend is the backend."""
    def start(*extra, **kw):
        b = http_backend()
        g = proxy(b.url, *extra, **kw)
        g.backend = b
        return g
    return start


@pytest.fixture
def gw_ws(proxy, ws_backend):
    """A gateway (https://localhost:P/) in front of a fresh ws_echo.py; gw.backend is the backend."""
    def start(*extra, backend_args=(), **kw):
        b = ws_backend(*backend_args)
        g = proxy(b.url, *extra, **kw)
        g.backend = b
        return g
    return start


@pytest.fixture
def raw_backend(work):
    """raw_backend(handler) -> RawBackend: handler(backend, conn) per connection, in a thread of
    the test, on a free loopback port; stopped at teardown (after the gateways started later)."""
    def start(handler):
        b = RawBackend(handler)
        work.procs.append(b)
        return b
    return start


@pytest.fixture
def start_gateway_under(work):
    """start_gateway_under(prefix, args, host, ports): like start_gateway, but runs
    `PREFIX... wssgate ARGS...` (e.g. prefix ["prlimit", "--nofile=48:48"]; a prefix that execs
    keeps the PID, so CPU time and the stop-by-PID still concern the gateway itself)."""
    def start(prefix, args, host, ports):
        binary = wssgate_bin()
        if not os.access(binary, os.X_OK):
            pytest.fail("wssgate binary not found at %s (set WSSGATE_BIN or build it)" % binary)
        home = work.path / "home"
        home.mkdir(exist_ok=True)
        n = sum(isinstance(p, Gateway) for p in work.procs)
        name = "wssgate%d" % (n + 1) if n else "wssgate"
        g = Gateway(name, list(prefix) + [binary] + list(args), work.path, home, host, ports,
                    gateway_env(home))
        work.procs.append(g)
        try:
            g.wait_ports(host, ports, timeout=10)
        except AssertionError:
            g.checked = False
            raise
        return g
    return start
