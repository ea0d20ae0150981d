#!/usr/bin/python3
"""A small Docker registry token server for tpgrade's tests.

It implements the token flow of the distribution spec (GET realm with
service and scope parameters, optional Basic credentials) and the OAuth2
POST flow (grant_type=password or refresh_token), and signs RS256 JWTs with
a key whose self-signed certificate the registry trusts
(`auth.token.rootcertbundle`). The certificate travels in the `x5c` header.

Policy: a user listed in --users gets every action it asks for; an
anonymous client gets `pull` only with --anonymous-pull; wrong credentials
get 401. Behaviour can be changed at run time for tests:

  GET /control?expired=N       the next N tokens carry an `exp` two minutes
                               in the past while announcing a normal
                               expires_in (the registry then refuses them)
  GET /control?expires_in=S    lifetime of new tokens (seconds)
  GET /control?field=F         answer with `token`, `access_token` or `both`
  GET /control?omit_expires=1  leave expires_in out of answers
  GET /control?pad=N           add a field of N bytes to token answers
  GET /stats                   counters as JSON
  GET /control?reset=1         counters to zero

It never logs a password or a token: only user names, scopes and counts.
Needs python3-cryptography (Debian package).
"""
import argparse
import base64
import json
import os
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "registry"))
from httptest import Handler, serve  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.expires_in = args.expires_in
        self.expired_left = 0
        self.field = "token"
        self.omit_expires = False
        self.pad = 0
        self.stats = {}
        self.reset()
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.users = {}
        for line in open(args.users, encoding="utf-8"):
            line = line.rstrip("\n")
            if ":" in line:
                u, p = line.split(":", 1)
                self.users[u] = p
        self.refresh = {}
        if args.refresh_tokens:
            for line in open(args.refresh_tokens, encoding="utf-8"):
                line = line.rstrip("\n")
                if ":" in line:
                    u, t = line.split(":", 1)
                    self.refresh[t] = u

    def reset(self):
        self.stats = {"issued": 0, "basic": 0, "anonymous": 0, "refresh": 0,
                      "password_grant": 0, "refused": 0, "expired_issued": 0,
                      "requests": 0}

    def count(self, name):
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    def sign(self, subject, access):
        now = int(time.time())
        with self.lock:
            lifetime = self.expires_in
            expired = self.expired_left > 0
            if expired:
                self.expired_left -= 1
                self.stats["expired_issued"] += 1
            self.stats["issued"] += 1
        exp = now - 120 if expired else now + lifetime
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.args.issuer, "sub": subject, "aud": self.args.service,
                  "exp": exp, "nbf": now - 300 if expired else now - 5,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode()))
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig), lifetime


def parse_scope(scope):
    # type:name:actions, where name may itself hold a colon (host:port).
    first = scope.find(":")
    last = scope.rfind(":")
    if first < 0 or last <= first:
        return None
    return scope[:first], scope[first + 1:last], [a for a in scope[last + 1:].split(",") if a]


def grant(state, user, scopes):
    access = []
    for s in scopes:
        parsed = parse_scope(s)
        if not parsed:
            continue
        typ, name, actions = parsed
        if user is not None:
            allowed = [a for a in actions if a in ("pull", "push", "delete", "*")]
        elif state.args.anonymous_pull and typ == "repository":
            allowed = [a for a in actions if a == "pull"]
        else:
            allowed = []
        if allowed:
            access.append({"type": typ, "name": name, "actions": allowed})
    return access


class TokenHandler(Handler):
    server_version = "tpgtest-token/1"

    def log_message(self, fmt, *args):
        # The request line may hold a scope, never a secret (secrets travel in
        # headers or POST bodies), so it is safe to log.
        self.server.logf.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
        self.server.logf.flush()

    def refuse(self, why):
        self.server.state.count("refused")
        self.log_message("refused: %s", why)
        self.error(401, "UNAUTHORIZED", why, {"WWW-Authenticate": 'Basic realm="tpgtest-token"'})

    def basic_user(self):
        """None: anonymous; False: bad credentials; else the user name."""
        h = self.headers.get("Authorization")
        if not h:
            return None
        if not h.startswith("Basic "):
            return False
        try:
            u, p = base64.b64decode(h[6:]).decode().split(":", 1)
        except Exception:
            return False
        if self.server.state.users.get(u) != p:
            return False
        return u

    def token_answer(self, user, scopes, oauth):
        st = self.server.state
        tok, lifetime = st.sign(user or "", grant(st, user, scopes))
        if oauth:
            obj = {"access_token": tok, "scope": " ".join(scopes)}
        elif st.field == "access_token":
            obj = {"access_token": tok}
        elif st.field == "both":
            obj = {"token": tok, "access_token": tok}
        else:
            obj = {"token": tok}
        if not st.omit_expires:
            obj["expires_in"] = lifetime
        obj["issued_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if st.pad:
            obj["padding"] = "x" * st.pad
        self.log_message("issued token for %s scopes %s", user or "<anonymous>", scopes)
        self.send_json(200, obj)

    def do_GET(self):
        st = self.server.state
        st.count("requests")
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        if u.path == "/stats":
            with st.lock:
                self.send_json(200, dict(st.stats))
            return
        if u.path == "/control":
            with st.lock:
                if "expired" in q:
                    st.expired_left = int(q["expired"][0])
                if "expires_in" in q:
                    st.expires_in = int(q["expires_in"][0])
                if "field" in q:
                    st.field = q["field"][0]
                if "omit_expires" in q:
                    st.omit_expires = q["omit_expires"][0] == "1"
                if "pad" in q:
                    st.pad = int(q["pad"][0])
                if "reset" in q:
                    st.reset()
            self.send_json(200, {"ok": True})
            return
        if u.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint")
            return
        if q.get("service", [""])[0] != st.args.service:
            self.error(400, "INVALID", "unknown service")
            return
        user = self.basic_user()
        if user is False:
            self.refuse("invalid username or password")
            return
        st.count("basic" if user else "anonymous")
        self.token_answer(user, q.get("scope", []), False)

    def do_POST(self):
        st = self.server.state
        st.count("requests")
        u = urlsplit(self.path)
        if u.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint")
            return
        n = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(min(n, 65536)).decode())
        if form.get("service", [""])[0] != st.args.service:
            self.send_json(400, {"error": "invalid_request"})
            return
        gt = form.get("grant_type", [""])[0]
        user = None
        if gt == "refresh_token":
            user = st.refresh.get(form.get("refresh_token", [""])[0])
            st.count("refresh")
        elif gt == "password":
            u_, p_ = form.get("username", [""])[0], form.get("password", [""])[0]
            user = u_ if st.users.get(u_) == p_ else None
            st.count("password_grant")
        if not user:
            st.count("refused")
            self.log_message("refused oauth grant %s", gt)
            self.send_json(401, {"error": "invalid_grant"})
            return
        self.token_answer(user, " ".join(form.get("scope", [])).split(), True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--users", required=True, help="file of user:password lines")
    ap.add_argument("--refresh-tokens", help="file of user:refresh-token lines")
    ap.add_argument("--issuer", default="tpgtest-issuer")
    ap.add_argument("--service", default="tpgtest-registry")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--anonymous-pull", action="store_true")
    ap.add_argument("--log", default="/dev/stderr")
    args = ap.parse_args()
    return serve(TokenHandler, args.port_file, port=args.port, state=State(args),
                 logf=open(args.log, "a", encoding="utf-8"))


if __name__ == "__main__":
    sys.exit(main())
