#!/usr/bin/env python3
"""Misbehaving registries for the registry client's live tests (stdlib only).

Role "fake" (on 127.0.0.1): wants Basic credentials (user/password from
--password-file) for everything, then, by repository:
  redir      manifests and blobs redirect (307) to the sink on another host
  samehost   manifests redirect to /v2/samehost-target/... on this host
  samehost-target  serves the test manifest
  big        500 with a 10 MB error body
  bigok      200 with a 10 MB "manifest"
  paged      tags/list paginated with Link headers (30 tags)
  loop       tags/list whose next page is itself
  hang       never answers (until the client gives up)
  echo       400 whose error message repeats the Authorization header
  evil       redirects to a URL with user:password@
Role "sink" (on 127.0.0.2): logs every request with its Authorization header
(that is the point: the tests check no credential arrives there) and serves
the test manifest and blob.
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(), "size": 2},
    "layers": [],
}, separators=(",", ":")).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
BLOB = b"tpgtest blob behind a redirect\n"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
TAGS = ["t%02d" % i for i in range(30)]
TEN_MB = 10 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tpgtest-fake/1"

    def log_message(self, fmt, *args):
        pass

    def log(self, line):
        with self.server.lock:
            self.server.logf.write(line + "\n")
            self.server.logf.flush()

    def send(self, code, body=b"", ctype="application/json", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, ecode, msg):
        self.send(code, json.dumps({"errors": [{"code": ecode, "message": msg}]}).encode())

    def manifest(self):
        self.send(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json",
                  {"Docker-Content-Digest": MANIFEST_DIGEST})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.server.role == "sink":
            return self.sink()
        auth = self.headers.get("Authorization")
        if auth != self.server.basic:
            self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                      headers={"WWW-Authenticate": 'Basic realm="tpgtest-fake"'})
            return
        u = urlsplit(self.path)
        parts = u.path.split("/")
        if u.path == "/v2/":
            return self.send(200, b"{}")
        if len(parts) < 4 or parts[1] != "v2":
            return self.error(404, "NOT_FOUND", "no route")
        repo, rest = parts[2], "/".join(parts[3:])
        if repo == "redir":
            return self.send(307, b"", headers={"Location": self.server.sink + u.path})
        if repo == "samehost":
            return self.send(307, b"", headers={"Location": u.path.replace("/samehost/", "/samehost-target/")})
        if repo == "samehost-target":
            return self.manifest()
        if repo == "evil":
            return self.send(307, b"", headers={"Location": "http://user:pw@127.0.0.2:1" + u.path})
        if repo == "echo":
            return self.error(400, "MANIFEST_INVALID", "you sent " + (auth or ""))
        if repo == "hang":
            time.sleep(20)
            return self.send(200, b"{}")
        if repo in ("big", "bigok"):
            code = 500 if repo == "big" else 200
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(TEN_MB))
            self.end_headers()
            if self.command == "HEAD":
                return
            head = b'{"errors":[{"code":"UNKNOWN","message":"'
            chunk = b"x" * 65536
            sent = 0
            try:
                self.wfile.write(head)
                sent = len(head)
                while sent + len(chunk) <= TEN_MB:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                self.wfile.write(b"x" * (TEN_MB - sent))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.log("big %s sent %d bytes" % (repo, sent))
            self.close_connection = True
            return
        if repo == "paged" and rest == "tags/list":
            q = parse_qs(u.query)
            n = int(q.get("n", ["100"])[0])
            last = q.get("last", [None])[0]
            start = TAGS.index(last) + 1 if last in TAGS else 0
            page = TAGS[start:start + n]
            hdrs = {}
            if start + n < len(TAGS):
                hdrs["Link"] = '</v2/paged/tags/list?n=%d&last=%s>; rel="next"' % (n, page[-1])
            return self.send(200, json.dumps({"name": "paged", "tags": page}).encode(), headers=hdrs)
        if repo == "loop" and rest == "tags/list":
            return self.send(200, b'{"name":"loop","tags":["a"]}',
                             headers={"Link": '<%s>; rel="next"' % self.path})
        return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")

    def sink(self):
        self.log("%s %s Authorization: %s" % (self.command, self.path,
                                              self.headers.get("Authorization") or "<none>"))
        u = urlsplit(self.path)
        if "/manifests/" in u.path:
            return self.manifest()
        if "/blobs/" in u.path:
            return self.send(200, BLOB, "application/octet-stream",
                             {"Docker-Content-Digest": BLOB_DIGEST})
        return self.error(404, "NAME_UNKNOWN", "nothing here")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["fake", "sink"], required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user", default="tpguser")
    ap.add_argument("--password-file")
    ap.add_argument("--sink", default="")
    args = ap.parse_args()
    srv = ThreadingHTTPServer((args.bind, 0), Handler)
    srv.daemon_threads = True
    srv.role = args.role
    srv.sink = args.sink
    srv.lock = threading.Lock()
    srv.logf = open(args.log, "a", encoding="utf-8")
    srv.basic = None
    if args.password_file:
        pw = open(args.password_file, encoding="utf-8").read()
        srv.basic = "Basic " + base64.b64encode(("%s:%s" % (args.user, pw)).encode()).decode()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
