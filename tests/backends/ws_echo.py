#!/usr/bin/python3
"""WebSocket echo backend (Debian's python3-websockets) for wssgate's black-box tests.

    ws_echo.py --port N [--host 127.0.0.1] [--log FILE] [--close-after N]

Echoes every message with its type (text stays text, binary stays binary). Subprotocols offered:
chat.v1, chat.v2 (the library picks one both sides list). Paths:
  /delayed                 each echo is sent 0.5 s after the message arrived
  /greet                   sends "welcome" as soon as the connection is open, then echoes
  /close?code=N&reason=R   the backend closes at once with that code and reason
  anything else            plain echo
--close-after N closes with 1000 after N messages. Events go to --log, one JSON object a line:
{"ev": "open", "path", "headers", "subprotocol", "open"} (open = connections open now),
{"ev": "message", "type", "len"}, {"ev": "close", "code", "reason"}.
"""
import argparse
import asyncio
import json
import signal
import time
from urllib.parse import parse_qs, urlsplit

import websockets


class Backend:
    def __init__(self, args):
        self.args = args
        self.open = 0

    def log(self, **ev):
        if self.args.log:
            ev["t"] = time.time()
            with open(self.args.log, "a") as f:
                f.write(json.dumps(ev) + "\n")

    async def handler(self, ws):
        self.open += 1
        url = urlsplit(ws.path)
        self.log(ev="open", path=ws.path, headers=list(ws.request_headers.raw_items()),
                 subprotocol=ws.subprotocol, open=self.open)
        try:
            if url.path == "/close":
                q = parse_qs(url.query)
                await ws.close(int(q.get("code", ["1000"])[0]), q.get("reason", [""])[0])
                return
            if url.path == "/greet":
                await ws.send("welcome")
            count = 0
            async for msg in ws:
                self.log(ev="message", type="text" if isinstance(msg, str) else "binary", len=len(msg))
                if url.path == "/delayed":
                    await asyncio.sleep(0.5)
                await ws.send(msg)
                count += 1
                if self.args.close_after and count >= self.args.close_after:
                    await ws.close(1000, "close-after")
                    break
        except websockets.ConnectionClosed:
            pass
        finally:
            self.open -= 1
            await ws.wait_closed()
            self.log(ev="close", code=ws.close_code, reason=ws.close_reason)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log")
    ap.add_argument("--close-after", type=int, default=0)
    args = ap.parse_args()
    b = Backend(args)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(b.handler, args.host, args.port, subprotocols=["chat.v1", "chat.v2"],
                                max_size=None, max_queue=64, ping_interval=None, backlog=2048):
        print("ws_echo listening on %s:%d" % (args.host, args.port), flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
