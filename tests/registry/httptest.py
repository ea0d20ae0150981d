"""What the small HTTP servers of the registry tests share (stdlib only).

Imported by tests/registry/fake-registry.py, tests/env/token-server.py and
tests/docker/fixtures/registry-helper.py (which put this folder on sys.path
and write no bytecode into the tree):

  Handler           a BaseHTTPRequestHandler speaking HTTP/1.1, silent, with
                    send / send_json / error (registry error bodies) /
                    tags_page (a tags list in pages with Link headers), and
                    HEAD answered as GET without its body
  image_manifest    an OCI image manifest without layers, and its digest
  serve             runs a handler on an address, the port in a file
"""
import hashlib
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(config):
    """(body, digest) of an OCI image manifest whose config blob is `config`."""
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256_digest(config), "size": len(config)},
        "layers": [],
    }, separators=(",", ":")).encode()
    return body, sha256_digest(body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

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

    def send_json(self, code, obj, headers=None):
        self.send(code, json.dumps(obj).encode(), headers=headers)

    def error(self, code, ecode, msg, headers=None):
        """A registry error answer: {"errors":[{"code","message"}]}."""
        self.send_json(code, {"errors": [{"code": ecode, "message": msg}]}, headers)

    def tags_page(self, repo, tags, page_max=None):
        """GET /v2/REPO/tags/list?n=&last=: one page of `tags` (at most
        page_max whatever n asks), with a Link rel="next" when more are left."""
        q = parse_qs(urlsplit(self.path).query)
        n = int(q.get("n", ["100"])[0])
        if page_max:
            n = min(n, page_max)
        last = q.get("last", [None])[0]
        start = tags.index(last) + 1 if last in tags else 0
        page = tags[start:start + n]
        headers = {}
        if start + n < len(tags):
            headers["Link"] = '</v2/%s/tags/list?n=%d&last=%s>; rel="next"' % (repo, n, page[-1])
        self.send_json(200, {"name": repo, "tags": page}, headers)

    def do_HEAD(self):
        self.do_GET()


def serve(handler, port_file, bind="127.0.0.1", port=0, **attrs):
    """Serves `handler` on bind:port (0: a free port) until interrupted, the
    port written to port_file once listening; attrs become attributes of
    the server (handlers read them as self.server.NAME)."""
    srv = ThreadingHTTPServer((bind, port), handler)
    srv.daemon_threads = True
    for k, v in attrs.items():
        setattr(srv, k, v)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
