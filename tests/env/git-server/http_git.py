#!/usr/bin/python3
"""Smart-HTTP git server for tpgrade's tests: `git http-backend` (CGI)
behind Python's http.server, with HTTP Basic authentication.

  http_git.py --root DIR --user student --token-file FILE --port-file FILE

Every request needs `Authorization: Basic user:token` (else 401 with a
WWW-Authenticate challenge, as GitHub does, even for a missing repository);
then http-backend serves DIR's repositories (GIT_HTTP_EXPORT_ALL), 404 for a
missing one. Paths under /slow/ accept the request and never answer (a hung
server, for timeouts). It binds 127.0.0.1 on a free port and writes the port
to --port-file once listening. It never logs the token.
"""
import argparse
import base64
import hmac
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tpg-git-http/1"

    def handle(self):
        # Clients we test are killed mid-request on purpose (timeouts).
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass

    def log_message(self, fmt, *args):
        sys.stderr.write("http-git: %s %s\n" % (self.address_string(), fmt % args))

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, token = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except Exception:
            return False
        cfg = self.server.cfg
        return hmac.compare_digest(user, cfg.user) and hmac.compare_digest(token, cfg.token)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def deny(self):
        body = b"authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="tpgrade tests"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_git(self):
        path, _, query = self.path.partition("?")
        if path.startswith("/slow/"):
            time.sleep(3600)
            return
        body = self.read_body() if self.command == "POST" else b""
        if not self.authorized():
            self.deny()
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.cfg.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_USER": self.server.cfg.user,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = proc.stdout
        sep = out.find(b"\r\n\r\n")
        seplen = 4
        if sep < 0:
            sep, seplen = out.find(b"\n\n"), 2
        if sep < 0:
            self.send_error(500, "bad CGI answer")
            return
        head, payload = out[:sep].decode("latin-1"), out[sep + seplen:]
        status, headers = 200, []
        for line in head.splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = handle_git
    do_POST = handle_git


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--user", default="student")
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--port-file", required=True)
    cfg = ap.parse_args()
    with open(cfg.token_file) as f:
        cfg.token = f.read().strip()
    cfg.root = os.path.abspath(cfg.root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.cfg = cfg
    tmp = cfg.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % httpd.server_address[1])
    os.rename(tmp, cfg.port_file)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
