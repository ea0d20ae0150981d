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
import sys
import threading
import time
from urllib.parse import urlsplit

sys.dont_write_bytecode = True
from httptest import Handler, image_manifest, serve, sha256_digest  # noqa: E402

MANIFEST, MANIFEST_DIGEST = image_manifest(b"{}")
BLOB = b"tpgtest blob behind a redirect\n"
BLOB_DIGEST = sha256_digest(BLOB)
TAGS = ["t%02d" % i for i in range(30)]
TEN_MB = 10 * 1024 * 1024


class FakeHandler(Handler):
    server_version = "tpgtest-fake/1"

    def log(self, line):
        with self.server.lock:
            self.server.logf.write(line + "\n")
            self.server.logf.flush()

    def manifest(self):
        self.send(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json",
                  {"Docker-Content-Digest": MANIFEST_DIGEST})

    def do_GET(self):
        if self.server.role == "sink":
            return self.sink()
        auth = self.headers.get("Authorization")
        if auth != self.server.basic:
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              {"WWW-Authenticate": 'Basic realm="tpgtest-fake"'})
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
            return self.tags_page("paged", TAGS)
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
    basic = None
    if args.password_file:
        pw = open(args.password_file, encoding="utf-8").read()
        basic = "Basic " + base64.b64encode(("%s:%s" % (args.user, pw)).encode()).decode()
    return serve(FakeHandler, args.port_file, bind=args.bind, role=args.role, sink=args.sink,
                 lock=threading.Lock(), logf=open(args.log, "a", encoding="utf-8"),
                 basic=basic)


if __name__ == "__main__":
    sys.exit(main())
