#!/usr/bin/env python3
"""Test HTTP(S) server for ferry's integration tests (Python 3 standard library only).

Serves the regular files under --root over HTTP/1.1 (keep-alive, always a
Content-Length), optionally over TLS with an optional required client
certificate and optional HTTP Basic auth, with fault injection and a request log.

    python3 testdata/source-server.py --root DIR [--bind 127.0.0.1] [--port 0]
        [--cert CERT.pem --key KEY.pem]   # TLS; without them plain HTTP
        [--client-ca CA.pem]              # require a client cert signed by this CA (needs --cert)
        [--basic USER:PASSWORD]           # require HTTP Basic auth (401 + WWW-Authenticate otherwise)
        [--log FILE]                      # append "METHOD PATH STATUS BYTES_SENT\\n" per request
        [--faults FILE.json]              # fault injection, re-read on every request

On start it prints exactly one line "listening PORT" to stdout (the real port,
also for --port 0) and serves until SIGTERM/SIGINT, which exit quietly (status 0).

Requests:
  * GET and HEAD only; any other method gets 405 (with Allow, connection closed).
  * The path (query string ignored) is URL-decoded ("+" stays "+") and resolved
    under --root. A path with a ".." segment, one that resolves (through
    symlinks) outside the root, a directory, or a missing file gives 404.
  * A single "Range: bytes=A-B", "bytes=A-" or "bytes=-N" gives 206 with
    Content-Range; 416 (Content-Range: bytes */SIZE) when unsatisfiable.
    Malformed or multi-range headers are ignored (full 200 response).
  * Bodies are streamed from disk in 64 KiB chunks. Error responses have an
    empty body. Content-Type is always application/octet-stream.
  * Order of checks: method (405), Basic auth (401), faults, file (404/416/200/206).

Faults file: a JSON object keyed by request path, matched against the decoded
path and then the raw path (both without query string), e.g.
    {"/repo/Packages/a.rpm": {"status": [503, 503], "drop_after": 100, "corrupt_at": 7}}
  * "status": [S, ...]   the next requests of the path (GET or HEAD) get these
                         statuses in order, one per request, with an empty body
                         and "Retry-After: 0"; afterwards the path is served normally.
  * "drop_after": N      the next GET of the path that is answered 200/206
                         (not HEAD, 4xx/5xx) sends the headers (full Content-Length) and
                         min(N, length) body bytes, then shuts the connection down
                         and closes it (no TLS close_notify).
  * "corrupt_at": N      every response for the path has the byte at file offset N
                         xor 0xff when the offset is inside the range sent (a list
                         of offsets is accepted too).
  * "status_always": S   always answer S with an empty body, no Retry-After (401
                         also carries WWW-Authenticate). Takes precedence over
                         the other faults.
  Consumption of "status" and "drop_after" is counted in memory per path, so the
  file need not be rewritten. The count restarts when that path's "status" list
  (or "drop_after" value) changes, or when the path disappears from the file.
  A missing faults file means no faults. An invalid one gets 500 and a message on
  stderr (write the file atomically: write a temp file, then rename it).

Log: one line per request, including faulted and rejected ones:
"METHOD PATH STATUS BYTES_SENT" where PATH is the raw request target and
BYTES_SENT counts body bytes only. The line is appended (file opened, written,
closed) *before* the response's last byte is sent, so it is already in the file
when a client has received a complete response or seen a dropped connection.
(If the client disconnects early, the bytes actually written are logged.)
"""

import argparse
import base64
import binascii
import hmac
import http.server
import json
import os
import re
import signal
import socket
import ssl
import stat
import sys
import threading
import time
import urllib.parse

CHUNK = 64 * 1024
REALM = "ferry-test"


class FaultSpecError(Exception):
    pass


class State:
    """Server-wide configuration and in-memory fault counters."""

    def __init__(self, args):
        self.root = os.path.realpath(args.root)
        self.log_path = args.log
        self.faults_path = args.faults
        self.basic = None
        if args.basic is not None:
            user, sep, password = args.basic.partition(":")
            if not sep:
                raise SystemExit("--basic must be USER:PASSWORD")
            self.basic = (user.encode("utf-8"), password.encode("utf-8"))
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        # path -> {"status_key", "status_used", "drop_key", "drop_used"}
        self.counters = {}

    # -- log ---------------------------------------------------------------

    def log(self, method, path, status, nbytes):
        if not self.log_path:
            return
        line = "%s %s %d %d\n" % (method or "-", path or "-", status, nbytes)
        with self.log_lock:
            with open(self.log_path, "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(line)
                f.flush()

    # -- faults ------------------------------------------------------------

    def _read_faults(self):
        if not self.faults_path:
            return {}
        last_err = None
        for _ in range(5):
            try:
                with open(self.faults_path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                return {}
            try:
                faults = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                last_err = e  # maybe caught mid-write; try again shortly
                time.sleep(0.02)
                continue
            if not isinstance(faults, dict):
                raise FaultSpecError("faults file must hold a JSON object")
            return faults
        raise FaultSpecError("faults file is not valid JSON: %s" % last_err)

    def plan(self, keys, method):
        """Decide the faults for one request.

        Returns (status, retry_after, corrupt_offsets, drop_after, key) where
        status is None to serve normally, retry_after tells whether the status
        comes from a "status" list, drop_after is None for no drop and key is
        the fault key that matched. `keys` are the candidates (decoded path, raw path).
        """
        faults = self._read_faults()
        key = next((k for k in keys if k in faults), None)
        with self.lock:
            # forget counters of paths no longer in the file
            for k in list(self.counters):
                if k not in faults:
                    del self.counters[k]
            if key is None:
                return None, False, (), None, None
            spec = faults[key]
            if not isinstance(spec, dict):
                raise FaultSpecError("fault for %r must be an object" % key)
            unknown = set(spec) - {"status", "drop_after", "corrupt_at", "status_always"}
            if unknown:
                raise FaultSpecError("unknown fault keys for %r: %s" % (key, sorted(unknown)))

            always = spec.get("status_always")
            if always is not None:
                if not _is_int(always):
                    raise FaultSpecError("status_always for %r must be an integer" % key)
                return always, False, (), None, key

            c = self.counters.setdefault(
                key, {"status_key": None, "status_used": 0, "drop_key": None, "drop_used": False})

            statuses = spec.get("status")
            if statuses is not None:
                if not isinstance(statuses, list) or not all(_is_int(s) for s in statuses):
                    raise FaultSpecError("status for %r must be a list of integers" % key)
                skey = json.dumps(statuses)
                if c["status_key"] != skey:
                    c["status_key"], c["status_used"] = skey, 0
                if c["status_used"] < len(statuses):
                    c["status_used"] += 1
                    return statuses[c["status_used"] - 1], True, (), None, key

            corrupt = spec.get("corrupt_at")
            if corrupt is None:
                corrupt = ()
            elif _is_int(corrupt):
                corrupt = (corrupt,)
            elif isinstance(corrupt, list) and all(_is_int(n) for n in corrupt):
                corrupt = tuple(corrupt)
            else:
                raise FaultSpecError("corrupt_at for %r must be an integer or a list of them" % key)

            drop = spec.get("drop_after")
            if drop is not None:
                if not _is_int(drop) or drop < 0:
                    raise FaultSpecError("drop_after for %r must be a non-negative integer" % key)
                if c["drop_key"] != drop:
                    c["drop_key"], c["drop_used"] = drop, False
                if c["drop_used"] or method != "GET":
                    drop = None
            # drop_used is only set by claim_drop(), once a body is really sent
            return None, False, corrupt, drop, key

    def claim_drop(self, key):
        """Mark the drop_after fault of the path as used; False if already used."""
        with self.lock:
            c = self.counters.get(key)
            if c is None or c["drop_used"]:
                return False
            c["drop_used"] = True
            return True


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


_DIGITS = re.compile(r"[0-9]*")


def parse_range(header, size):
    """Returns None (ignore header: full response), "unsatisfiable", or (start, end) inclusive."""
    if header is None:
        return None
    header = header.strip()
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not sep or not _DIGITS.fullmatch(first) or not _DIGITS.fullmatch(last):
        return None
    if not first:
        if not last:
            return None
        n = int(last)  # suffix: the last n bytes
        if n == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid per RFC 9110: ignore
    end = int(last) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    return (start, min(end, size - 1))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ferry-source-server"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this

    def version_string(self):
        return self.server_version

    # quiet: the --log file is the access log
    def log_message(self, format, *args):
        pass

    @property
    def st(self):
        return self.server.state

    def __getattr__(self, name):
        # every method other than GET/HEAD gets 405 (instead of the default 501)
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    # -- responses ---------------------------------------------------------

    def _empty(self, status, headers=()):
        """Empty-body response; logged before it is sent."""
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "0")
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        # path is unset when the request line could not be parsed
        self.st.log(self.command, getattr(self, "path", None), status, 0)
        try:
            self.end_headers()
        except OSError:
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        # malformed requests etc. (called by BaseHTTPRequestHandler itself)
        self.close_connection = True
        self._empty(code)

    def _not_allowed(self):
        self.close_connection = True  # any request body is left unread
        self._empty(405, [("Allow", "GET, HEAD")])

    def do_GET(self):
        self._serve()

    def do_HEAD(self):
        self._serve()

    # -- main logic --------------------------------------------------------

    def _authorized(self):
        if self.st.basic is None:
            return True
        h = self.headers.get("Authorization", "")
        scheme, _, token = h.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = raw.partition(b":")
        want_user, want_password = self.st.basic
        ok_user = hmac.compare_digest(user, want_user)
        ok_password = hmac.compare_digest(password, want_password)
        return bool(sep) and ok_user and ok_password

    def _serve(self):
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form
            target = urllib.parse.urlsplit(target).path or "/"
        raw_path = target.split("?", 1)[0].split("#", 1)[0]
        decoded = urllib.parse.unquote(raw_path, errors="surrogateescape")
        keys = (decoded, raw_path) if decoded != raw_path else (decoded,)

        if not self._authorized():
            self._empty(401, [("WWW-Authenticate", 'Basic realm="%s"' % REALM)])
            return

        try:
            status, retry_after, corrupt, drop, key = self.st.plan(keys, self.command)
        except (FaultSpecError, OSError) as e:
            sys.stderr.write("source-server: faults: %s\n" % e)
            sys.stderr.flush()
            self._empty(500)
            return
        if status is not None:
            headers = [("Retry-After", "0")] if retry_after else []
            if status == 401:
                headers.append(("WWW-Authenticate", 'Basic realm="%s"' % REALM))
            self._empty(status, headers)
            return

        f = self._open(decoded)
        if isinstance(f, int):
            self._empty(f)
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            rng = parse_range(self.headers.get("Range"), size)
            if rng == "unsatisfiable":
                self._empty(416, [("Content-Range", "bytes */%d" % size)])
                return
            if rng is None:
                status, start, length = 200, 0, size
            else:
                status, start, length = 206, rng[0], rng[1] - rng[0] + 1

            if self.command != "GET":
                drop = None
            if drop is not None and not self.st.claim_drop(key):
                drop = None  # a concurrent request took it

            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, start + length - 1, size))
            if self.close_connection:
                self.send_header("Connection", "close")

            if self.command == "HEAD" or (length == 0 and drop is None):
                self.st.log(self.command, self.path, status, 0)
                try:
                    self.end_headers()
                except OSError:
                    self.close_connection = True
                return

            to_send = length if drop is None else min(drop, length)
            self._send_body(f, status, start, to_send, corrupt, drop is not None)

    def _open(self, decoded):
        """Open the regular file for a decoded path, or return an error status."""
        if "\0" in decoded:
            return 404
        rel = decoded.lstrip("/")
        if any(seg == ".." for seg in rel.split("/")):
            return 404
        root = self.st.root
        real = os.path.realpath(os.path.join(root, rel))
        if real != root and not real.startswith(root.rstrip("/") + "/"):
            return 404
        try:
            st = os.stat(real)
            if not stat.S_ISREG(st.st_mode):
                return 404
            f = open(real, "rb", buffering=0)
        except PermissionError:
            return 403
        except (FileNotFoundError, NotADirectoryError, OSError, ValueError):
            return 404
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            f.close()
            return 404
        return f

    def _send_body(self, f, status, start, to_send, corrupt, drop):
        sent = 0
        logged = False
        try:
            if to_send == 0:  # drop_after 0: headers only, then the drop
                self.st.log(self.command, self.path, status, 0)
                logged = True
            self.end_headers()
            f.seek(start)
            buf = bytearray(CHUNK)
            while sent < to_send:
                want = min(CHUNK, to_send - sent)
                n = f.readinto(memoryview(buf)[:want])
                if not n:
                    raise OSError("file shrank while being sent")
                chunk = buf[:n]
                off = start + sent
                for c in corrupt:
                    if off <= c < off + n:
                        chunk[c - off] ^= 0xFF
                if sent + n >= to_send and not logged:
                    # log before the final bytes leave, so the line is in the
                    # file by the time the client has the complete response
                    self.st.log(self.command, self.path, status, to_send)
                    logged = True
                self.wfile.write(chunk)
                sent += n
        except OSError:
            self.close_connection = True
            if not logged:
                self.st.log(self.command, self.path, status, sent)
                logged = True
            return
        if drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self.connection.close()
            except OSError:
                pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr, state, ssl_context):
        self.state = state
        self.ssl_context = ssl_context
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # the TLS handshake runs in the connection's own thread, not in accept()
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return  # failed handshake (e.g. no/bad client certificate)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return  # client went away
        super().handle_error(request, client_address)


def main(argv=None):
    p = argparse.ArgumentParser(description="ferry test HTTP(S) server with fault injection")
    p.add_argument("--root", required=True, help="directory to serve")
    p.add_argument("--bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument("--cert", help="server certificate chain (PEM); enables TLS")
    p.add_argument("--key", help="server private key (PEM); default: in --cert")
    p.add_argument("--client-ca", help="require client certificates signed by this CA (PEM)")
    p.add_argument("--basic", metavar="USER:PASSWORD", help="require HTTP Basic auth")
    p.add_argument("--log", help="append 'METHOD PATH STATUS BYTES_SENT' per request")
    p.add_argument("--faults", help="JSON fault file, re-read on every request")
    args = p.parse_args(argv)

    if not os.path.isdir(args.root):
        p.error("--root %s is not a directory" % args.root)
    if (args.key or args.client_ca) and not args.cert:
        p.error("--key and --client-ca need --cert")

    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(args.cert, args.key)
            if args.client_ca:
                ctx.load_verify_locations(cafile=args.client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as e:
            p.error("cannot load TLS certificates: %s" % e)
        ctx.set_alpn_protocols(["http/1.1"])

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    try:
        server = Server((args.bind, args.port), State(args), ctx)
    except OSError as e:
        sys.stderr.write("source-server: cannot listen on %s port %d: %s\n" % (args.bind, args.port, e))
        return 1
    try:
        sys.stdout.write("listening %d\n" % server.server_address[1])
        sys.stdout.flush()
        server.serve_forever(poll_interval=0.2)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
