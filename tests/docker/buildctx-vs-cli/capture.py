# A fake Engine API on a unix socket that saves the build context the docker
# CLI sends (POST /build) and stops the build: capture.py SOCKET TAR
import socket, os, sys
path, tar_out = sys.argv[1], sys.argv[2]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(5)
while True:
    c, _ = s.accept()
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d: break
            buf += d
        if b"\r\n\r\n" not in buf: break
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n"); req = lines[0]
        hdr = {l.split(":",1)[0].lower(): l.split(":",1)[1].strip() for l in lines[1:] if ":" in l}
        body = b""
        if "content-length" in hdr:
            n = int(hdr["content-length"])
            while len(buf) < n: buf += c.recv(65536)
            body, buf = buf[:n], buf[n:]
        elif hdr.get("transfer-encoding") == "chunked":
            while True:
                while b"\r\n" not in buf: buf += c.recv(65536)
                sz, rest = buf.split(b"\r\n", 1); sz = int(sz, 16)
                while len(rest) < sz + 2: rest += c.recv(65536)
                body += rest[:sz]; buf = rest[sz+2:]
                if sz == 0: break
        if "/build" in req:
            open(tar_out, "wb").write(body)
            out = b'{"error":"stop","errorDetail":{"message":"stop"}}\r\n'
        elif "_ping" in req:
            out = b"OK"
        else:
            out = b'{"ApiVersion":"1.41","MinAPIVersion":"1.12","Version":"20.10.24","Os":"linux"}'
        c.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
    c.close()
