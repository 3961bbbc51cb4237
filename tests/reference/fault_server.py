"""A fault-injecting HTTP server for tests/reference/check_download.sh.

usage: fault_server.py PORT_FILE IMAGE_FILE

Binds 127.0.0.1 on a free port (written to PORT_FILE), serves until killed.
Every path is a fault (see handlers below); /stats returns the counters as
JSON and /reset-stats clears them. Threaded, so slow paths block nobody.

Authorization (check_sources_auth.sh): the environment's FAULT_BEARER is
the one token /auth accepts, FAULT_FILES the folder /auth and /open serve
files from; every Authorization header that arrives on /auth, /authredirect
and /open is recorded in stats["auth"][KEY] (null when none came)."""
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, IMAGE_FILE = sys.argv[1], sys.argv[2]
IMAGE = open(IMAGE_FILE, "rb").read()
lock = threading.Lock()
stats = {}


def reset_stats():
    inflight = stats.get("inflight", 0)  # the /reset-stats request itself is in flight
    stats.clear()
    stats.update(inflight=inflight, max_inflight=0, requests={}, times={}, huge_sent=0, huge_disconnected=False,
                 auth={})


reset_stats()


def count(key):
    """Requests seen for key so far (this one included), with their times."""
    with lock:
        n = stats["requests"].get(key, 0) + 1
        stats["requests"][key] = n
        stats["times"].setdefault(key, []).append(time.monotonic())
        return n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def leave(self):
        """Stop counting this request as in flight. Called before the last
        response bytes go out: a client may start its next request the moment
        it has them, before this thread returns from do_GET."""
        if self.counted:
            self.counted = False
            with lock:
                stats["inflight"] -= 1

    def send(self, code, body=b"", ctype="text/plain", headers=()):
        self.leave()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def image(self, headers=()):
        self.send(200, IMAGE, "image/jpeg", headers)

    def authorization(self, key):
        """Record the Authorization header that came (or None) under key;
        True when it carries the accepted token."""
        got = self.headers.get("Authorization")
        with lock:
            stats["auth"].setdefault(key, []).append(got)
        want = os.environ.get("FAULT_BEARER")
        return bool(want) and got == "Bearer " + want

    def file(self, name):
        """IMAGE for "img", else a file of FAULT_FILES (no folders)."""
        if name == "img":
            return self.image()
        folder = os.environ.get("FAULT_FILES", "")
        path = os.path.join(folder, os.path.basename(name))
        if not folder or not os.path.isfile(path):
            return self.send(404, b"no such file\n")
        with open(path, "rb") as f:
            self.send(200, f.read(), "application/octet-stream")

    def do_GET(self):
        with lock:
            stats["inflight"] += 1
            stats["max_inflight"] = max(stats["max_inflight"], stats["inflight"])
        self.counted = True
        try:
            self.route(self.path.split("?")[0].strip("/").split("/"))
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.leave()

    def route(self, p):
        head = p[0]
        if head == "stats":
            with lock:
                body = json.dumps(stats).encode()
            self.send(200, body, "application/json")
        elif head == "reset-stats":
            with lock:
                reset_stats()
            self.send(200, b"ok")
        elif head == "img":
            self.image()
        elif head == "status":  # /status/CODE
            self.send(int(p[1]), b"fault status\n")
        elif head == "flaky":  # /flaky/KEY/N/CODE: CODE for the first N requests, then the image
            if count(p[1]) <= int(p[2]):
                self.send(int(p[3]), b"try again\n")
            else:
                self.image()
        elif head == "retry-after":  # /retry-after/KEY/N/VALUE: 429 + Retry-After N times
            if count(p[1]) <= int(p[2]):
                self.send(429, b"slow down\n", headers=[("Retry-After", p[3])])
            else:
                self.image()
        elif head == "always429":  # /always429/KEY/SECONDS
            count(p[1])
            self.send(429, b"slow down\n", headers=[("Retry-After", p[2])])
        elif head == "slow":  # promises 100 kB, drips 1 byte every 0.5 s
            count("slow")
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for i in range(120):
                self.wfile.write(IMAGE[i:i + 1])
                self.wfile.flush()
                time.sleep(0.5)
        elif head == "truncated":  # Content-Length longer than what is sent
            count("truncated")
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE[: len(IMAGE) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
        elif head == "reset":  # RST instead of a response
            count("reset")
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif head == "loop":  # /loop/N -> /loop/N+1 forever
            self.send(302, b"", headers=[("Location", "/loop/%d" % (int(p[1]) + 1))])
        elif head == "tofile":
            self.send(302, b"", headers=[("Location", "file:///etc/passwd")])
        elif head == "redirect":  # /redirect/ENCODED-ABSOLUTE-URL (scheme://host:port/path, '|' for '/')
            self.send(301, b"", headers=[("Location", p[1].replace("|", "/"))])
        elif head == "auth":  # /auth/KEY/NAME: NAME with the token, 401 without it
            if self.authorization(p[1]):
                self.file(p[2])
            else:
                self.send(401, b"token required\n", headers=[("WWW-Authenticate", 'Bearer realm="fault"')])
        elif head == "authredirect":  # /authredirect/KEY/ENCODED-URL: with the token, 302 there ('|' for '/')
            if self.authorization(p[1]):
                self.send(302, b"", headers=[("Location", p[2].replace("|", "/"))])
            else:
                self.send(401, b"token required\n", headers=[("WWW-Authenticate", 'Bearer realm="fault"')])
        elif head == "open":  # /open/KEY/NAME: NAME to anyone (a CDN), noting any Authorization
            self.authorization(p[1])
            self.file(p[2])
        elif head == "html":
            self.send(200, b"<!doctype html><html><body>not an image</body></html>\n", "text/html")
        elif head == "wrongtype":  # claims to be a JPEG, is text
            self.send(200, b"this is plain text, whatever the header says\n" * 10, "image/jpeg")
        elif head == "huge":  # close-delimited endless body
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = IMAGE[:4] + bytes(65532)
            try:
                for _ in range(4000):  # 256 MB at most
                    self.wfile.write(chunk)
                    with lock:
                        stats["huge_sent"] += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                with lock:
                    stats["huge_disconnected"] = True
        elif head == "huge-cl":  # announces 10 GB
            count("huge-cl")
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(IMAGE)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif head == "robots":  # /robots/VARIANT
            value = {"noai": "noai", "noimageindex": "noarchive, noimageindex", "otherbot": "otherbot: noai",
                     "tessera": "tessera: noimageai", "none": "none", "noarchive": "noarchive, nofollow"}[p[1]]
            self.image(headers=[("X-Robots-Tag", value)])
        elif head == "conc":  # holds each request 0.3 s, to count concurrency
            time.sleep(0.3)
            self.image()
        else:
            self.send(404, b"no such fault\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # clients that reset or abort are the point of this server


server = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
