#!/usr/bin/python3
"""smtp_sink.py: an SMTP server for the tests, standing in for a mail relay.

Listens on 127.0.0.1 (or ::1), on a free port it writes to --port-file, and
keeps every message it accepts: the envelope as one JSON line in --record
(mail from, recipients, whether TLS and which AUTH user), the message itself
as DIR/msg-N.eml beside it, so that a test can read the code that was sent.

  --starttls offer|require|none   STARTTLS offered (default), required before
                                  MAIL, or not offered at all
  --implicit-tls                  TLS from the first byte (smtps://)
  --auth USER:PASSWORD_FILE       AUTH PLAIN and LOGIN offered (after TLS) and
                                  required before MAIL

A deliberately small server (RFC 5321 commands EHLO, HELO, STARTTLS, AUTH,
MAIL, RCPT, DATA, RSET, NOOP, QUIT), not a relay.  Stop it by PID.
"""
import argparse
import base64
import json
import os
import socket
import socketserver
import ssl
import threading
import time

import sinklib


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port-file", required=True)
    p.add_argument("--record", required=True, help="JSON lines, one per message; messages beside it")
    p.add_argument("--starttls", choices=["offer", "require", "none"], default="offer")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth", help="USER:PASSWORD_FILE")
    return p.parse_args()


class Session:
    def __init__(self, handler):
        self.h = handler
        self.srv = handler.server
        self.args = self.srv.args
        self.tls = isinstance(handler.connection, ssl.SSLSocket)
        self.reset()
        self.auth_user = None

    def reset(self):
        self.mail_from = None
        self.rcpt = []

    def reply(self, text):
        self.h.wfile.write((text + "\r\n").encode("ascii"))
        self.h.wfile.flush()

    def line(self):
        raw = self.h.rfile.readline(4096)
        if not raw:
            raise EOFError
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def ehlo_lines(self):
        lines = ["sink", "8BITMIME", "SMTPUTF8"]
        if not self.tls and self.args.starttls != "none" and self.srv.tls_ctx:
            lines.append("STARTTLS")
        if self.args.auth and self.tls:
            lines.append("AUTH PLAIN LOGIN")
        return lines

    def run(self):
        self.reply("220 sink ESMTP ready")
        while True:
            cmd = self.line()
            verb = cmd.split(" ", 1)[0].upper()
            arg = cmd[len(verb):].strip()
            if verb == "EHLO":
                lines = self.ehlo_lines()
                for i, l in enumerate(lines):
                    self.reply(("250 " if i == len(lines) - 1 else "250-") + l)
            elif verb == "HELO":
                self.reply("250 sink")
            elif verb == "STARTTLS" and "STARTTLS" in self.ehlo_lines():
                self.reply("220 go ahead")
                conn = self.srv.tls_ctx.wrap_socket(self.h.connection, server_side=True)
                self.h.connection = conn
                self.h.rfile = conn.makefile("rb")
                self.h.wfile = conn.makefile("wb")
                self.tls = True
                self.reset()
            elif verb == "AUTH" and self.args.auth and self.tls:
                self.auth(arg)
            elif verb == "MAIL":
                if self.args.starttls == "require" and not self.tls:
                    self.reply("530 Must issue a STARTTLS command first")
                elif self.args.auth and not self.auth_user:
                    self.reply("530 Authentication required")
                else:
                    self.mail_from = arg.split(":", 1)[-1].strip()
                    self.rcpt = []
                    self.reply("250 ok")
            elif verb == "RCPT":
                if self.mail_from is None:
                    self.reply("503 MAIL first")
                else:
                    self.rcpt.append(arg.split(":", 1)[-1].strip())
                    self.reply("250 ok")
            elif verb == "DATA":
                if not self.rcpt:
                    self.reply("503 RCPT first")
                    continue
                self.reply("354 end with <CRLF>.<CRLF>")
                self.data()
            elif verb == "RSET":
                self.reset()
                self.reply("250 ok")
            elif verb == "NOOP":
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def auth(self, arg):
        user, _, pwfile = self.args.auth.partition(":")
        with open(pwfile, encoding="utf-8") as f:
            password = f.readline().rstrip("\n")
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        try:
            if mech == "PLAIN":
                if not initial:
                    self.reply("334 ")
                    initial = self.line()
                parts = base64.b64decode(initial).split(b"\0")
                got_user, got_pw = parts[1].decode(), parts[2].decode()
            elif mech == "LOGIN":
                self.reply("334 VXNlcm5hbWU6")
                got_user = base64.b64decode(self.line()).decode()
                self.reply("334 UGFzc3dvcmQ6")
                got_pw = base64.b64decode(self.line()).decode()
            else:
                self.reply("504 mechanism not supported")
                return
        except (ValueError, IndexError, UnicodeDecodeError):
            self.reply("501 malformed")
            return
        if got_user == user and got_pw == password:
            self.auth_user = got_user
            self.reply("235 authenticated")
        else:
            self.reply("535 authentication failed")

    def data(self):
        lines = []
        while True:
            raw = self.h.rfile.readline(65536)
            if not raw:
                raise EOFError
            if raw in (b".\r\n", b".\n"):
                break
            if raw.startswith(b".."):
                raw = raw[1:]
            lines.append(raw)
        message = b"".join(lines)
        with self.srv.lock:
            self.srv.count += 1
            n = self.srv.count
            path = os.path.join(os.path.dirname(os.path.abspath(self.args.record)), "msg-%d.eml" % n)
            with open(path, "wb") as f:
                f.write(message)
            with open(self.args.record, "a", encoding="utf-8") as f:
                f.write(json.dumps({"time": time.time(), "n": n, "file": path, "mail_from": self.mail_from,
                                    "rcpt": self.rcpt, "tls": self.tls, "auth": self.auth_user}) + "\n")
        self.reset()
        self.reply("250 queued as %d" % n)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            Session(self).run()
        except (EOFError, OSError, ssl.SSLError):
            pass


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.count = 0
        self.tls_ctx = None
        if args.cert:
            self.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_ctx.load_cert_chain(args.cert, args.key)
        self.address_family = socket.AF_INET6 if ":" in args.address else socket.AF_INET
        super().__init__((args.address, 0), Handler)

    def get_request(self):
        conn, addr = super().get_request()
        if self.args.implicit_tls:
            conn = self.tls_ctx.wrap_socket(conn, server_side=True)
        return conn, addr


def main():
    args = parse_args()
    if (args.implicit_tls or args.starttls == "require") and not args.cert:
        raise SystemExit("smtp_sink: TLS needs --cert and --key")
    srv = Sink(args)
    sinklib.serve(srv, args.record, args.port_file)


if __name__ == "__main__":
    main()
