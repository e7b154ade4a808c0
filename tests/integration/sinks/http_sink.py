#!/usr/bin/python3
"""http_sink.py: an HTTP(S) server for the tests, standing in for an SMS gateway.

Listens on 127.0.0.1 (or ::1), on a free port it writes to --port-file, and
records every request it receives, one JSON object per line in --record:
method, path, query, headers and body (text), so that a test can read what
rlm_twofa sent, the code included.  It answers with --status and --body,
after --delay seconds (a gateway that is slow; a very long delay is one that
never answers).  With --cert and --key it speaks TLS only.  Stop it by PID.
"""
import argparse
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sinklib


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port-file", required=True, help="where to write the port it listens on")
    p.add_argument("--record", required=True, help="JSON lines, one per request")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--body", default='{"status":"queued"}')
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    p.add_argument("--cert", help="PEM certificate chain: TLS only")
    p.add_argument("--key", help="PEM private key of --cert")
    return p.parse_args()


class Sink(ThreadingHTTPServer):
    daemon_threads = True        # a request held by --delay does not keep it alive

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in args.address else socket.AF_INET
        super().__init__((args.address, 0), Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm
    # the body waits for the client's delayed ACK of the headers, 40 ms on
    # every request of a kept-alive connection (the sender reuses them).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):    # quiet: the record is the log
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        srv = self.server
        with srv.lock, open(srv.args.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        if srv.args.delay:
            time.sleep(srv.args.delay)
        out = srv.args.body.encode("utf-8")
        try:
            self.send_response(srv.args.status)
            self.send_header("Content-Type", srv.args.content_type)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except OSError:
            pass            # the client gave up waiting

    do_GET = do_POST = do_PUT = handle_any


def main():
    args = parse_args()
    srv = Sink(args)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    sinklib.serve(srv, args.record, args.port_file)


if __name__ == "__main__":
    main()
