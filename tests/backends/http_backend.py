#!/usr/bin/python3
"""Test HTTP/1.1 backend for wssgate's black-box tests: a raw-socket server (no HTTP library) so
that it can report exactly what it received and answer with exactly the bytes a test needs.

    http_backend.py --port N [--host 127.0.0.1] [--log FILE] [--cert F --key F]

Every connection, every chunk of bytes received and every parsed request is appended to --log as
one JSON object per line ({"ev": "conn"|"data"|"request", ...}), so a test can tell whether
anything at all reached the backend. Paths:

  /echo-headers        200, JSON: request line, method, target, version, headers as received, peer
  /status/NNN          status NNN, body "status NNN\\n"
  /chunked             200, chunked response: CHUNKED_BODY in several chunks
  /slow?s=N            waits N seconds (max 60), then 200 "slow\\n"
  /big?n=BYTES         200, Content-Length body of BYTES bytes of pattern(n)
  /body                200, echoes the request body; X-Received-Length, X-Received-Framing
  /bad-response        invalid HTTP bytes, then close
  /raw101-bad-accept   101 with Upgrade: websocket but a wrong Sec-WebSocket-Accept
  /raw101              101 with a correct Sec-WebSocket-Accept (when a key came), then silence
  /raw101-halfclose    like /raw101, then waits (5 s max) for EOF and sends one text frame,
                       "eof-seen" or "no-eof", on the half-closed connection
  anything else        200, JSON like /echo-headers

With --cert/--key it serves HTTPS instead (used by the harness self-test).
"""
import argparse
import base64
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHUNKED_PARTS = [b"first chunk;", b"x" * 3000, b";second;", b"last part\n"]
CHUNKED_BODY = b"".join(CHUNKED_PARTS)
MAX_HEAD = 256 * 1024


_BLOCK = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(65536))


def pattern(n):
    """Deterministic bytes of length n (the tests compute the same to compare)."""
    return (_BLOCK * (n // len(_BLOCK) + 1))[:n]


class Log:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, **ev):
        if not self.path:
            return
        ev["t"] = time.time()
        line = json.dumps(ev) + "\n"
        with self.lock, open(self.path, "a") as f:
            f.write(line)


class BadRequest(Exception):
    pass


class Conn:
    def __init__(self, sock, cid, log):
        self.sock = sock
        self.cid = cid
        self.log = log
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if data:
            self.log.write(ev="data", conn=self.cid, n=len(data))
        return data

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too large")
            data = self.fill()
            if not data:
                if self.buf:
                    raise BadRequest("eof in head")
                return None
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            data = self.fill()
            if not data:
                raise BadRequest("eof in body")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self):
        while b"\r\n" not in self.buf:
            data = self.fill()
            if not data:
                raise BadRequest("eof in chunked body")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_chunked(self):
        body = b""
        while True:
            size = int(self.read_line().split(b";")[0].strip(), 16)
            if size == 0:
                while self.read_line():  # trailers
                    pass
                return body
            body += self.read_exact(size)
            if self.read_exact(2) != b"\r\n":
                raise BadRequest("bad chunk end")


def parse_head(head):
    lines = head.split(b"\r\n")
    reqline = lines[0].decode("latin-1")
    parts = reqline.split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise BadRequest("bad header line")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return reqline, parts, headers


def hget(headers, name):
    vals = [v for n, v in headers if n.lower() == name.lower()]
    return ", ".join(vals) if vals else None


def response(status, body=b"", headers=(), reason=None):
    reasons = {200: "OK", 101: "Switching Protocols", 301: "Moved Permanently",
               400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}
    out = "HTTP/1.1 %d %s\r\n" % (status, reason or reasons.get(status, "Whatever"))
    hs = list(headers)
    if not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in hs) and status >= 200:
        hs.append(("Content-Length", str(len(body))))
    for n, v in hs:
        out += "%s: %s\r\n" % (n, v)
    return out.encode("latin-1") + b"\r\n" + body


def serve_conn(sock, peer, cid, args, log):
    c = Conn(sock, cid, log)
    try:
        while True:
            head = c.read_head()
            if head is None:
                return
            reqline, (method, target, version), headers = parse_head(head)
            te = hget(headers, "Transfer-Encoding")
            cl = hget(headers, "Content-Length")
            if te and "chunked" in te.lower():
                body, framing = c.read_chunked(), "chunked"
            elif cl is not None:
                body, framing = c.read_exact(int(cl)), "length"
            else:
                body, framing = b"", "none"
            info = {"request_line": reqline, "method": method, "target": target,
                    "version": version, "headers": headers, "peer": "%s:%d" % peer[:2],
                    "body_len": len(body), "framing": framing}
            log.write(ev="request", conn=cid, **info)
            url = urlsplit(target)
            q = parse_qs(url.query)
            path = url.path
            keep = version == "HTTP/1.1" and "close" not in (hget(headers, "Connection") or "").lower()
            conn_hdr = [] if keep else [("Connection", "close")]
            if path.startswith("/status/"):
                code = int(path[len("/status/"):])
                out = response(code, b"status %d\n" % code, conn_hdr + [("Content-Type", "text/plain")])
            elif path == "/chunked":
                out = response(200, headers=conn_hdr + [("Transfer-Encoding", "chunked")])
                for part in CHUNKED_PARTS:
                    out += b"%x\r\n%s\r\n" % (len(part), part)
                out += b"0\r\n\r\n"
            elif path == "/slow":
                time.sleep(min(float(q.get("s", ["1"])[0]), 60))
                out = response(200, b"slow\n", conn_hdr)
            elif path == "/big":
                out = response(200, pattern(int(q.get("n", ["0"])[0])),
                               conn_hdr + [("Content-Type", "application/octet-stream")])
            elif path == "/body":
                out = response(200, body, conn_hdr + [("X-Received-Length", str(len(body))),
                                                      ("X-Received-Framing", framing)])
            elif path == "/bad-response":
                sock.sendall(b"HTTP/1.1 2x0 OK\r\nContent-Length: zz\r\n\x00\x01garbage\r\n\r\n")
                return
            elif path in ("/raw101", "/raw101-bad-accept", "/raw101-halfclose"):
                key = hget(headers, "Sec-WebSocket-Key") or ""
                accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
                if path == "/raw101-bad-accept":
                    accept = base64.b64encode(hashlib.sha1(b"wrong" + WS_GUID).digest()).decode()
                sock.sendall(response(101, headers=[("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                    ("Sec-WebSocket-Accept", accept)]))
                if path == "/raw101-halfclose":
                    # Wait for the client's FIN to come through, then answer on the half-open
                    # connection with one unmasked text frame saying what happened.
                    sock.settimeout(5)
                    try:
                        while c.fill():
                            pass
                        msg = b"eof-seen"
                    except socket.timeout:
                        msg = b"no-eof"
                    log.write(ev="halfclose", conn=cid, result=msg.decode())
                    sock.sendall(b"\x81" + bytes([len(msg)]) + msg)
                    return
                # Keep the connection open (as a real tunnel would) until the peer goes.
                while c.fill():
                    pass
                return
            else:
                js = json.dumps(info).encode()
                out = response(200, js, conn_hdr + [("Content-Type", "application/json")])
            sock.sendall(out)
            if not keep:
                return
    except BadRequest as e:
        log.write(ev="bad", conn=cid, why=str(e))
        try:
            sock.sendall(response(400, b"backend: bad request\n", [("Connection", "close")]))
        except OSError:
            pass
    except (OSError, ssl.SSLError, ValueError) as e:
        log.write(ev="error", conn=cid, why=repr(e))
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    log = Log(args.log)
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    ls = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.host, args.port))
    ls.listen(1024)
    print("http_backend listening on %s:%d" % (args.host, args.port), flush=True)
    cid = 0
    while True:
        sock, peer = ls.accept()
        cid += 1
        log.write(ev="conn", conn=cid, peer="%s:%d" % peer[:2])

        def run(sock=sock, peer=peer, cid=cid):
            if ctx:
                try:
                    sock = ctx.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    log.write(ev="error", conn=cid, why=repr(e))
                    sock.close()
                    return
            serve_conn(sock, peer, cid, args, log)

        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
