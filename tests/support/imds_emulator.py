#!/usr/bin/env python3
"""A loopback EC2 instance metadata service (IMDSv2) for tests, the demo and the benchmark.

Standard library only; runs on any python3 >= 3.7.

    imds_emulator.py [--values FILE] [--port N] [--port-file F] [--bind ADDR]
                     [--latency-ms N] [--token-ttl-max S] [--verbose]

IMDS behaviour (paths are relative, without the leading slash):
  PUT  /latest/api/token      needs X-aws-ec2-metadata-token-ttl-seconds in 1..token-ttl-max (else
                              400); answers a fresh random token.
  GET  /<path>                needs a valid, unexpired X-aws-ec2-metadata-token (else 401). Answers
                              the value of <path> from the values file, a directory listing when
                              <path> is a prefix of known keys (children, sub-directories with a
                              trailing '/'), or 404.
  Any request carrying X-Forwarded-For gets 403, as real IMDS does for proxied requests.
  --latency-ms delays every IMDS answer (not the control plane).

Control plane (same server, no token needed):
  GET  /_stats    {"requests", "token_puts", "tokens_issued", "gets": {path: n},
                   "statuses": {"200": n, ...}, "in_flight", "max_in_flight", "forwarded_rejected"}
  POST /_control  one JSON object with an "action":
    {"action": "set_latency", "ms": 50}
    {"action": "set_values", "values": {"latest/user-data": "...", "some/path": null}, "replace": false}
                  null deletes a key; replace=true starts from an empty map; with
                  "encoding": "base64" each value is base64 and served as the decoded bytes
                  (binary user data: gzip).
    {"action": "fault", "path": "latest/meta-data/mac", "status": 503, "count": 2}
                  answer the next `count` requests for path with `status` (count omitted or < 0:
                  until cleared). "path": "*" matches every IMDS path, the token PUT included.
    {"action": "fault", "path": "...", "hang": true}
                  never answer requests for path until clear_faults or reset.
    {"action": "clear_faults"}     also releases hung requests
    {"action": "expire_tokens"}    every issued token becomes invalid (next GETs get 401)
    {"action": "reset_stats"}
    {"action": "reset"}            values, latency, faults and stats back to startup state
  Answers {"ok": true}, or 400 {"error": "..."}.

Readiness: with --port-file, the bound port is written there (atomically) once the socket listens.
Tokens and values are never logged.
"""

import argparse
import base64
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_PATH = "latest/api/token"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
DEFAULT_VALUES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imds-default.json")


class State:
    """Everything mutable, behind one lock. Hung requests wait on `changed`."""

    def __init__(self, values, latency_ms, token_ttl_max):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.initial_values = dict(values)
        self.initial_latency_ms = latency_ms
        self.values = dict(values)
        self.latency_ms = latency_ms
        self.token_ttl_max = token_ttl_max
        self.tokens = {}  # token -> monotonic expiry
        self.faults = {}  # path -> {"status": int, "count": int} or {"hang": True}
        self.in_flight = 0
        self.reset_stats_locked()

    def reset_stats_locked(self):
        self.requests = 0
        self.token_puts = 0
        self.tokens_issued = 0
        self.gets = {}
        self.statuses = {}
        self.max_in_flight = self.in_flight
        self.forwarded_rejected = 0

    def stats(self):
        with self.lock:
            return {
                "requests": self.requests,
                "token_puts": self.token_puts,
                "tokens_issued": self.tokens_issued,
                "gets": dict(self.gets),
                "statuses": dict(self.statuses),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "forwarded_rejected": self.forwarded_rejected,
            }

    def control(self, req):
        action = req.get("action")
        with self.lock:
            if action == "set_latency":
                self.latency_ms = max(0, int(req["ms"]))
            elif action == "set_values":
                values = req.get("values", {})
                if not isinstance(values, dict):
                    raise ValueError("values must be an object")
                if req.get("replace"):
                    self.values = {}
                for path, value in values.items():
                    path = normalize(path)
                    if value is None:
                        self.values.pop(path, None)
                    elif isinstance(value, str):
                        if req.get("encoding") == "base64":
                            value = base64.b64decode(value, validate=True)
                        self.values[path] = value
                    else:
                        raise ValueError("value of %s must be a string or null" % path)
            elif action == "fault":
                path = req.get("path")
                if not isinstance(path, str) or not path:
                    raise ValueError("fault needs a path")
                path = path if path == "*" else normalize(path)
                if req.get("hang"):
                    self.faults[path] = {"hang": True}
                else:
                    status = int(req["status"])
                    if not 100 <= status <= 599:
                        raise ValueError("status must be an HTTP status")
                    self.faults[path] = {"status": status, "count": int(req.get("count", -1))}
                self.changed.notify_all()
            elif action == "clear_faults":
                self.faults = {}
                self.changed.notify_all()
            elif action == "expire_tokens":
                self.tokens = {}
            elif action == "reset_stats":
                self.reset_stats_locked()
            elif action == "reset":
                self.values = dict(self.initial_values)
                self.latency_ms = self.initial_latency_ms
                self.faults = {}
                self.reset_stats_locked()
                self.changed.notify_all()
            else:
                raise ValueError("unknown action %r" % (action,))


def normalize(path):
    """'/latest/meta-data/mac?x' -> 'latest/meta-data/mac'."""
    return path.split("?", 1)[0].split("#", 1)[0].lstrip("/")


def listing(values, path):
    """Children of a directory path, like real IMDS; None when path is not a directory."""
    prefix = path if path.endswith("/") or path == "" else path + "/"
    children = []
    for key in values:
        if key.startswith(prefix) and len(key) > len(prefix):
            rest = key[len(prefix):]
            child = rest.split("/", 1)[0] + ("/" if "/" in rest else "")
            if child not in children:
                children.append(child)
    if not children:
        return None
    return "\n".join(sorted(children))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40 ms delayed-ACK stalls
    server_version = "EC2ws"
    sys_version = ""

    def log_message(self, fmt, *args):  # only the request line and status; never headers or bodies
        if self.server.verbose:
            sys.stderr.write("imds-emulator: %s\n" % (fmt % args))

    def log_request(self, code="-", size="-"):
        if self.server.verbose:
            sys.stderr.write("imds-emulator: %s %s -> %s\n" % (self.command, normalize(self.path), code))

    def reply(self, status, body, content_type="text/plain", headers=()):
        data = body.encode("utf-8") if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # --- control plane -----------------------------------------------------------------------
    def control_plane(self):
        state = self.server.state
        if self.command == "GET" and normalize(self.path) == "_stats":
            self.reply(200, json.dumps(state.stats()), "application/json")
            return
        if self.command == "POST" and normalize(self.path) == "_control":
            try:
                req = json.loads(self.read_body().decode("utf-8") or "{}")
                if not isinstance(req, dict):
                    raise ValueError("body must be a JSON object")
                state.control(req)
            except (ValueError, KeyError, TypeError, base64.binascii.Error) as e:
                self.reply(400, json.dumps({"error": str(e)}), "application/json")
                return
            self.reply(200, json.dumps({"ok": True}), "application/json")
            return
        self.reply(405, "method not allowed\n")

    # --- IMDS --------------------------------------------------------------------------------
    def imds(self):
        state = self.server.state
        path = normalize(self.path)
        self.read_body()
        with state.lock:
            state.requests += 1
            if self.command == "PUT" and path == TOKEN_PATH:
                state.token_puts += 1
            elif self.command == "GET":
                state.gets[path] = state.gets.get(path, 0) + 1
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            latency = state.latency_ms
        status = 500
        try:
            if latency > 0:
                time.sleep(latency / 1000.0)
            status, body, headers = self.imds_answer(state, path)
            if status is None:  # hung request released by clear_faults/reset: drop the connection
                self.close_connection = True
                return
            self.reply(status, body, headers=headers)
        finally:
            with state.lock:
                state.in_flight -= 1
                key = "dropped" if status is None else str(status)
                state.statuses[key] = state.statuses.get(key, 0) + 1

    def imds_answer(self, state, path):
        if self.headers.get("X-Forwarded-For") is not None:
            with state.lock:
                state.forwarded_rejected += 1
            return 403, "Forbidden\n", ()
        with state.lock:
            fault = state.faults.get(path) or state.faults.get("*")
            if fault is not None and fault.get("hang"):
                while fault is state.faults.get(path) or fault is state.faults.get("*"):
                    state.changed.wait(0.5)
                return None, "", ()
            if fault is not None:
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        for key in [k for k, v in state.faults.items() if v is fault]:
                            del state.faults[key]
                return fault["status"], "fault injected\n", ()
        if self.command == "PUT":
            if path != TOKEN_PATH:
                return 405, "Method Not Allowed\n", ()
            ttl = self.headers.get(TTL_HEADER)
            try:
                ttl = int(ttl)
            except (TypeError, ValueError):
                return 400, "Bad Request: missing or invalid %s\n" % TTL_HEADER, ()
            if not 1 <= ttl <= state.token_ttl_max:
                return 400, "Bad Request: %s out of range\n" % TTL_HEADER, ()
            token = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
            with state.lock:
                state.tokens[token] = time.monotonic() + ttl
                state.tokens_issued += 1
            return 200, token, ((TTL_HEADER, str(ttl)),)
        if self.command != "GET":
            return 405, "Method Not Allowed\n", ()
        token = self.headers.get(TOKEN_HEADER)
        with state.lock:
            expiry = state.tokens.get(token) if token else None
            if expiry is None or expiry <= time.monotonic():
                return 401, "Unauthorized\n", ()
            if path in state.values:
                return 200, state.values[path], ()
            children = listing(state.values, path)
        if children is not None:
            return 200, children, ()
        return 404, "Not Found\n", ()

    def handle_any(self):
        if normalize(self.path).startswith("_"):
            self.control_plane()
        else:
            self.imds()

    do_GET = handle_any
    do_PUT = handle_any
    do_POST = handle_any
    do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs of a concurrent batch (1 s retransmit)


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def serve(server, port_file=None, name="emulator", verbose=False):
    """Publishes the bound port in port_file (atomically, once listening) and serves until
    interrupted; shared by the IMDS, AWS API and S3 emulators."""
    port = server.server_address[1]
    if port_file:
        write_port_file(port_file, port)
    if verbose:
        sys.stderr.write("%s: listening on %s:%d\n" % (name, server.server_address[0], port))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv):
    p = argparse.ArgumentParser(description="Loopback IMDSv2 emulator (see module docstring).")
    p.add_argument("--values", default=DEFAULT_VALUES, help="JSON map of path -> string body")
    p.add_argument("--port", type=int, default=0, help="0 picks an ephemeral port")
    p.add_argument("--port-file", help="write the bound port here when ready")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--token-ttl-max", type=int, default=21600)
    p.add_argument("--verbose", action="store_true", help="log request lines (never tokens or values)")
    args = p.parse_args(argv)

    with open(args.values) as f:
        raw = json.load(f)
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        sys.stderr.write("imds-emulator: %s must be a JSON object of strings\n" % args.values)
        return 2
    values = {normalize(k): v for k, v in raw.items()}

    server = Server((args.bind, args.port), Handler)
    server.state = State(values, max(0, args.latency_ms), args.token_ttl_max)
    server.verbose = args.verbose
    return serve(server, args.port_file, "imds-emulator", args.verbose)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
