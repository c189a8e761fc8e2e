#!/usr/bin/python3
"""A loopback S3 emulator for tests: GetObject and HeadObject, path-style, every signed request's
Signature Version 4 verified with botocore (the verifier of aws_emulator.py, with S3's rules).

Run it with Debian's /usr/bin/python3 (package python3-botocore); --make-release needs no botocore.

    s3_emulator.py [--root DIR] [--port N] [--port-file F] [--bind ADDR] [--region R]
                   [--private-bucket NAME]... [--verbose]
    s3_emulator.py --make-release DIR [--bucket amazon-eks] --version 1.30.4 --build-date 2024-07-10
                   [--arch amd64]...

Objects (plain HTTP; point AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL at it):
  GET  /BUCKET/KEY     the object: an object put through the control plane, else the file
                       DIR/BUCKET/KEY under --root. Keys are percent-decoded.
  HEAD /BUCKET/KEY     the same without the body (errors have no body either, as S3 does)
  Requests in absolute form ("GET http://host/BUCKET/KEY HTTP/1.1") are served the same way and
  counted as "proxied": the emulator doubles as the HTTP proxy in proxy tests.
  A bucket exists when DIR/BUCKET is a directory, an object was put into it, or it was named by
  --private-bucket / the "private" action; otherwise 404 NoSuchBucket.

Authentication, as S3 does it:
  - no Authorization header: an anonymous request. A public bucket (the default) answers it; a
    private bucket answers 403 AccessDenied.
  - an Authorization header: must be SigV4 for a known access key (aws_emulator's credentials,
    below), this emulator's region (else 400 AuthorizationHeaderMalformed naming the region, with
    x-amz-bucket-region) and the signing name "s3"; x-amz-content-sha256 must be present, signed,
    and be the SHA-256 of the (empty) body or UNSIGNED-PAYLOAD (else 400 InvalidRequest /
    XAmzContentSHA256Mismatch). Otherwise: 403 SignatureDoesNotMatch, 403 InvalidAccessKeyId,
    400 InvalidToken (a session key without its X-Amz-Security-Token), 400 ExpiredToken. A bad
    signature is refused for public buckets too.
  Errors are S3's XML: <Error><Code>NoSuchKey</Code><Message>...</Message>...</Error>.

Known credentials (as in aws_emulator.py; override with set_credentials):
  AKIAEMULATORSTATIC01 / static-secret-key-0000000000000000000000      (no token)
  ASIAEMULATORROLE0001 / role-secret-key-00000000000000000000000001    token "role-session-token-1"
  ASIAEMULATORROLE0002 / role-secret-key-00000000000000000000000002    token "role-session-token-2"

Control plane (never signed):
  GET  /_stats    {"requests", "by_key": {"bucket/key": n}, "signature_ok", "signature_failed",
                   "anonymous", "proxied", "head", "throttled", "statuses": {"200": n},
                   "access_keys": {akid: n}, "signed_headers": [last SignedHeaders],
                   "content_sha256": [last x-amz-content-sha256 or ""], "tokens_signed",
                   "bytes_sent", "failures": [last 10 reasons]}
  POST /_control  one JSON object with an "action" ("bucket" defaults to "amazon-eks"):
    {"action": "put", "bucket": "b", "key": "k", "text": "..."}       also "base64": "..." for
                  bytes, or "size": N for N pattern bytes (big objects without big JSON)
    {"action": "delete", "bucket": "b", "key": "k"}                   a put object, and hides a file
    {"action": "missing", "bucket": "b", "key": "k"}                  404 NoSuchKey from now on
    {"action": "corrupt_checksum", "bucket": "b", "key": "k"}         KEY.sha256 names a wrong hash
                  (the key may be given with or without ".sha256")
    {"action": "private", "bucket": "b", "private": true}             anonymous requests get 403
    {"action": "fault", "key": "k" | "*", "status": 503, "code": "SlowDown", "count": 2}
                  answer the next `count` requests for that key (default: until cleared) with this
                  error, after authentication
    {"action": "delay", "ms": 500}                                    before every object answer
    {"action": "slow", "key": "k" | "*", "chunk_bytes": 65536, "chunk_ms": 10,
                  "stall_after": N, "count": 1}
                  send bodies in chunks with pauses; with stall_after, stop sending after N bytes
                  and hold the connection (up to 60 s) as a stalled download would
    {"action": "set_credentials", "credentials": {"AKID": {"secret": "...", "token": "..."}}}
    {"action": "expire_credentials", "access_key_id": "ASIA...",
                  "then_set_imds": {"url": "http://127.0.0.1:N/_control", "values": {...}}}
                  requests signed with that key get 400 ExpiredToken; optionally the emulator then
                  posts set_values to an IMDS emulator, as if IMDS had rotated the credentials
    {"action": "clear_faults"}  {"action": "reset_stats"}  {"action": "reset"}
  Answers {"ok": true}, or 400 {"error": "..."}.

Readiness: with --port-file, the bound port is written there (atomically) once the socket listens.
"""

import argparse
import base64
import copy
import datetime
import hashlib
import os
import re
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from imds_emulator import serve  # noqa: E402  (standard library only)

try:
    import aws_emulator  # noqa: E402  botocore's SigV4 verifier (Debian python3-botocore)
    from botocore.auth import S3SigV4Auth  # noqa: E402
    # S3 signs the URI path as sent (already percent-encoded once); the generic SigV4 signer
    # normalises and encodes it again. In this process verify_sigv4 must use S3's rules.
    aws_emulator.SigV4Auth = S3SigV4Auth
    IMPORT_ERROR = None
except ImportError as e:  # --make-release needs none of it
    aws_emulator = None
    IMPORT_ERROR = e

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_BUCKET = "amazon-eks"
RELEASE_TOOLS = ("kubelet", "kubectl", "ecr-credential-provider", "aws-iam-authenticator")


def s3_error_xml(code, message, extra=()):
    fields = "".join("<%s>%s</%s>" % (k, escape(v), k) for k, v in extra)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s'
            "<RequestId>EMULATED0000000</RequestId><HostId>emulator</HostId></Error>"
            % (escape(code), escape(message), fields))


def pattern_bytes(size):
    block = bytes(range(256)) * 256  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


class State(aws_emulator.SignatureState if aws_emulator else object):
    """Everything mutable, behind one lock: what aws_emulator.verify_sigv4 reads (lock, region,
    credentials, expired, stats), the shared credential actions, and S3's own (control). Without
    botocore (--make-release only) there is no server and no base to share."""

    def __init__(self, root, region, private):
        self.lock = threading.Lock()
        self.root = os.path.realpath(root) if root else None
        self.region = region
        self.initial_private = set(private)
        self.reset_all()

    def reset_all(self):
        self.objects = {}      # (bucket, key) -> bytes
        self.hidden = set()    # (bucket, key) answered 404 although a file exists
        self.corrupt = set()   # (bucket, key of the binary) whose .sha256 lies
        self.private = set(self.initial_private)
        self.known_buckets = set(self.initial_private)
        self.credentials = copy.deepcopy(aws_emulator.DEFAULT_CREDENTIALS)
        self.expired = {}
        self.faults = {}
        self.slow = {}
        self.delay_ms = 0
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"requests": 0, "by_key": {}, "signature_ok": 0, "signature_failed": 0, "anonymous": 0,
                      "proxied": 0, "head": 0, "throttled": 0, "statuses": {}, "access_keys": {},
                      "signed_headers": [], "content_sha256": [], "tokens_signed": 0, "bytes_sent": 0,
                      "failures": []}

    def control(self, req):
        action = req.get("action")
        bucket = req.get("bucket", DEFAULT_BUCKET)
        with self.lock:
            if action == "put":
                if "base64" in req:
                    body = base64.b64decode(req["base64"])
                elif "size" in req:
                    body = pattern_bytes(int(req["size"]))
                else:
                    body = req.get("text", "").encode("utf-8")
                self.objects[(bucket, req["key"])] = body
                self.hidden.discard((bucket, req["key"]))
                self.known_buckets.add(bucket)
            elif action == "delete":
                self.objects.pop((bucket, req["key"]), None)
                self.hidden.add((bucket, req["key"]))
            elif action == "missing":
                self.hidden.add((bucket, req["key"]))
            elif action == "corrupt_checksum":
                key = req["key"]
                self.corrupt.add((bucket, key[:-len(".sha256")] if key.endswith(".sha256") else key))
            elif action == "private":
                (self.private.add if req.get("private", True) else self.private.discard)(bucket)
                self.known_buckets.add(bucket)
            elif action == "fault":
                self.faults[req.get("key", "*")] = {
                    "status": int(req["status"]), "code": req.get("code", ""),
                    "count": int(req.get("count", -1))}
            elif action == "delay":
                self.delay_ms = max(0, int(req["ms"]))
            elif action == "slow":
                self.slow[req.get("key", "*")] = {
                    "chunk_bytes": max(1, int(req.get("chunk_bytes", 65536))),
                    "chunk_ms": max(0, int(req.get("chunk_ms", 10))),
                    "stall_after": req.get("stall_after"), "count": int(req.get("count", -1))}
            elif action == "clear_faults":
                self.faults, self.slow, self.delay_ms = {}, {}, 0
            elif not self.shared_control(action, req):
                raise ValueError("unknown action %r" % (action,))

    def bucket_exists(self, bucket):
        with self.lock:
            if bucket in self.known_buckets:
                return True
        return self.root is not None and os.path.isdir(os.path.join(self.root, bucket))

    def lookup(self, bucket, key):
        """The object's bytes, or None."""
        with self.lock:
            if (bucket, key) in self.hidden:
                return None
            if (bucket, key) in self.objects:
                return self.objects[(bucket, key)]
            corrupt = key.endswith(".sha256") and (bucket, key[:-len(".sha256")]) in self.corrupt
        if corrupt:
            name = key[:-len(".sha256")].rsplit("/", 1)[-1]
            return ("%s  %s\n" % (hashlib.sha256(b"not the object").hexdigest(), name)).encode()
        if self.root is None:
            return None
        path = os.path.realpath(os.path.join(self.root, bucket, key))
        if not path.startswith(self.root + os.sep) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def take(self, table, key):
        """The entry of `table` for key (or "*") with its count used up by one, or None."""
        with self.lock:
            entry = table.get(key) or table.get("*")
            if entry is None or entry["count"] == 0:
                return None
            if entry["count"] > 0:
                entry["count"] -= 1
            return dict(entry)


BaseHandler = aws_emulator.Handler if aws_emulator else object


class Handler(BaseHandler):
    """aws_emulator's handler (answers, proxy-form targets, control plane) with S3's objects."""

    server_version = "AmazonS3"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("s3-emulator: %s\n" % (fmt % args))

    def reply(self, status, body, content_type, headers=(), count=True):
        # A HEAD answer never has a body, errors included (S3 sends none).
        super().reply(status, b"" if self.command == "HEAD" else body, content_type, headers, count)

    def s3_error(self, status, code, message, extra=(), headers=()):
        self.reply(status, s3_error_xml(code, message, extra), "application/xml", headers)

    def handle_any(self):
        state = self.server.state
        path, url, proxied = self.target()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if path.startswith("/_") and not proxied:
            return self.control_plane(path, body)
        raw_path = path.split("?", 1)[0]
        with state.lock:
            state.stats["requests"] += 1
            if proxied:
                state.stats["proxied"] += 1
            if self.command == "HEAD":
                state.stats["head"] += 1
        if self.command not in ("GET", "HEAD"):
            return self.s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        m = re.match(r"^/([^/]+)/(.+)$", raw_path)
        if not m:
            return self.s3_error(400, "InvalidRequest", "path-style requests only: /BUCKET/KEY")
        bucket, key = urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2))
        with state.lock:
            by = state.stats["by_key"]
            by[bucket + "/" + key] = by.get(bucket + "/" + key, 0) + 1

        if "Authorization" in self.headers:
            if not self.authenticate(url, body):
                return
        else:
            with state.lock:
                state.stats["anonymous"] += 1
                private = bucket in state.private
            if private:
                return self.s3_error(403, "AccessDenied", "Access Denied")

        with state.lock:
            delay = state.delay_ms
        if delay:
            time.sleep(delay / 1000.0)
        fault = state.take(state.faults, key)
        if fault is not None:
            code = fault["code"] or {429: "SlowDown", 503: "SlowDown", 500: "InternalError"}.get(
                fault["status"], "InternalError")
            if fault["status"] in (429, 503) or code == "SlowDown":
                with state.lock:
                    state.stats["throttled"] += 1
            return self.s3_error(fault["status"], code, "injected fault")

        if not state.bucket_exists(bucket):
            return self.s3_error(404, "NoSuchBucket", "The specified bucket does not exist",
                                 (("BucketName", bucket),))
        data = state.lookup(bucket, key)
        if data is None:
            return self.s3_error(404, "NoSuchKey", "The specified key does not exist.", (("Key", key),))
        self.send_object(key, data)

    def authenticate(self, url, body):
        """Checks a signed request; answers the error itself and returns False when it fails."""
        state = self.server.state
        sha = self.headers.get("x-amz-content-sha256")
        akid, problem = aws_emulator.verify_sigv4(state, self.command, url, self.headers, body, "s3")
        signed = aws_emulator.AUTH_RE.match(self.headers.get("Authorization", ""))
        signed_names = signed.group(5).split(";") if signed else []
        with state.lock:
            if akid:
                state.stats["access_keys"][akid] = state.stats["access_keys"].get(akid, 0) + 1
            state.stats["content_sha256"] = [sha or ""]
        if problem is None:
            if sha is None:
                problem = ("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
            elif "x-amz-content-sha256" not in signed_names:
                problem = ("SignatureDoesNotMatch", "x-amz-content-sha256 must be signed")
            elif sha not in (UNSIGNED_PAYLOAD, hashlib.sha256(body).hexdigest()):
                problem = ("XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.")
        if problem is None:
            with state.lock:
                state.stats["signature_ok"] += 1
            return True
        code, message = problem
        if code == "ExpiredToken":
            with state.lock:
                rotate = state.expired.get(akid)
            if rotate:
                aws_emulator.post_json(rotate["url"], {"action": "set_values", "values": rotate["values"]})
            self.s3_error(400, "ExpiredToken", "The provided token has expired.")
            return False
        with state.lock:
            state.note_failure("%s %s: %s: %s" % (self.command, akid, code, message))
        scope = re.search(r"not ([^/]*)/(\S*)$", message) if message.startswith("Credential should be scoped") else None
        if scope and scope.group(2) == "s3":
            self.s3_error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; the region is wrong; expecting '%s'"
                          % state.region, (("Region", state.region),), (("x-amz-bucket-region", state.region),))
        elif code == "MissingAuthenticationToken":
            self.s3_error(400, "AuthorizationHeaderMalformed", message)
        elif code == "UnrecognizedClientException":
            with state.lock:
                known = akid in state.credentials
            if known:
                self.s3_error(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
            else:
                self.s3_error(403, "InvalidAccessKeyId",
                              "The AWS Access Key Id you provided does not exist in our records.")
        elif code in ("InvalidRequest", "XAmzContentSHA256Mismatch"):
            self.s3_error(400, code, message)
        else:
            self.s3_error(403, "SignatureDoesNotMatch", message)
        return False

    def send_object(self, key, data):
        state = self.server.state
        slow = state.take(state.slow, key) if self.command == "GET" else None
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", '"%s"' % hashlib.md5(data).hexdigest())
            self.send_header("Last-Modified", "Wed, 10 Jul 2024 12:00:00 GMT")
            self.send_header("x-amz-request-id", "EMULATED0000000")
            self.end_headers()
            sent = 0
            if self.command == "GET":
                if slow is None:
                    self.wfile.write(data)
                    sent = len(data)
                else:
                    stall_after = slow["stall_after"]
                    while sent < len(data):
                        if stall_after is not None and sent >= int(stall_after):
                            time.sleep(60)  # a stalled transfer: the client gives up first
                            break
                        end = min(len(data), sent + slow["chunk_bytes"])
                        if stall_after is not None:
                            end = min(end, max(sent + 1, int(stall_after)))
                        self.wfile.write(data[sent:end])
                        self.wfile.flush()
                        sent = end
                        time.sleep(slow["chunk_ms"] / 1000.0)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        with state.lock:
            st = state.stats["statuses"]
            st["200"] = st.get("200", 0) + 1
            state.stats["bytes_sent"] += sent

    do_GET = handle_any
    do_HEAD = handle_any
    do_POST = handle_any
    do_PUT = handle_any


def fake_version_hash(tool, version, build_date):
    return hashlib.sha1(("%s %s %s" % (tool, version, build_date)).encode()).hexdigest()[:7]


def fake_tool_script(tool, version, build_date):
    """A #!/bin/sh stand-in that prints what the real binary's version command prints."""
    eks = "v%s-eks-%s" % (version, fake_version_hash(tool, version, build_date))
    text = {
        "kubelet": "Kubernetes %s" % eks,
        "kubectl": "Client Version: %s\nKustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3" % eks,
        "ecr-credential-provider": "ecr-credential-provider %s" % eks,
        "aws-iam-authenticator": '{"Version":"%s","Commit":"%s"}' % (
            eks, fake_version_hash("commit", version, build_date)),
    }[tool]
    return ("#!/bin/sh\n# Fake %s %s (build %s), made by tests/support/s3_emulator.py --make-release.\n"
            "cat <<'EOF'\n%s\nEOF\n" % (tool, version, build_date, text))


def make_release(root, bucket, version, build_date, arches):
    """Writes ROOT/BUCKET/VERSION/BUILD_DATE/bin/linux/ARCH/{tool, tool.sha256} for each tool."""
    written = []
    for arch in arches:
        d = os.path.join(root, bucket, version, build_date, "bin", "linux", arch)
        os.makedirs(d, exist_ok=True)
        for tool in RELEASE_TOOLS:
            data = fake_tool_script(tool, version, build_date).encode()
            path = os.path.join(d, tool)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o755)
            with open(path + ".sha256", "w") as f:  # sha256sum's format: "<hex>  <name>"
                f.write("%s  %s\n" % (hashlib.sha256(data).hexdigest(), tool))
            written.append(path)
    return written


def main(argv):
    p = argparse.ArgumentParser(description="Loopback S3 emulator (see module docstring).")
    p.add_argument("--root", help="serve DIR/BUCKET/KEY")
    p.add_argument("--port", type=int, default=0, help="0 picks an ephemeral port")
    p.add_argument("--port-file", help="write the bound port here when ready")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--region", default="us-west-2")
    p.add_argument("--private-bucket", action="append", default=[], metavar="NAME",
                   help="anonymous requests to this bucket get 403 AccessDenied (repeatable)")
    p.add_argument("--verbose", action="store_true", help="log request lines (never credentials)")
    p.add_argument("--make-release", metavar="DIR", help="write a fake release into DIR and exit")
    p.add_argument("--bucket", default=DEFAULT_BUCKET)
    p.add_argument("--version", help="Kubernetes version for --make-release, e.g. 1.30.4")
    p.add_argument("--build-date", help="build date for --make-release, e.g. 2024-07-10")
    p.add_argument("--arch", action="append", help="architecture for --make-release (repeatable; amd64)")
    args = p.parse_args(argv)

    if args.make_release:
        if not args.version or not args.build_date:
            p.error("--make-release needs --version and --build-date")
        try:
            datetime.date.fromisoformat(args.build_date)
        except ValueError:
            p.error("--build-date must be YYYY-MM-DD")
        for path in make_release(args.make_release, args.bucket, args.version, args.build_date,
                                 args.arch or ["amd64"]):
            print(path)
        return 0

    if aws_emulator is None:
        sys.stderr.write("s3-emulator: cannot import the SigV4 verifier (%s); run it with /usr/bin/python3 "
                         "and python3-botocore\n" % IMPORT_ERROR)
        return 2
    server = aws_emulator.Server((args.bind, args.port), Handler)
    server.state = State(args.root, args.region, args.private_bucket)
    server.verbose = args.verbose
    return serve(server, args.port_file, "s3-emulator", args.verbose)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
