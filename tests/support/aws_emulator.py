#!/usr/bin/python3
"""A loopback AWS API emulator for tests: EKS DescribeCluster and DescribeAddonVersions, EC2
DescribeInstanceTypes, DescribeInstances and DescribeRegions, ECR GetAuthorizationToken, each
request's Signature Version 4 verified with botocore.

Run it with Debian's /usr/bin/python3 (package python3-botocore): the verifier is botocore's own
SigV4Auth, an implementation independent of libcurl's signer that the agent uses.

    aws_emulator.py [--port N] [--port-file F] [--bind ADDR] [--region R] [--verbose]

API (plain HTTP; point AWS_ENDPOINT_URL at it, or send it proxy requests):
  GET  /clusters/NAME        EKS DescribeCluster (REST-JSON), signing name "eks"
  GET  /addons/supported-versions?addonName=A&kubernetesVersion=1.30[&maxResults=N&nextToken=T]
                             EKS DescribeAddonVersions (REST-JSON, paged), signing name "eks"
  POST /  Action=DescribeInstanceTypes|DescribeInstances|DescribeRegions&Version=2016-11-15&...
                             EC2 Query API, XML answers, signing name "ec2"
  POST /  X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken
                             ECR (JSON 1.1, Content-Type application/x-amz-json-1.1), signing
                             name "ecr"
  Requests in absolute form ("GET http://host/path HTTP/1.1") are served the same way and counted
  as "proxied": the emulator doubles as the HTTP proxy in proxy tests.

Every API request must carry a valid SigV4 Authorization header for a known access key (below),
the emulator's region and the operation's service; a session key must send its token in
X-Amz-Security-Token. Otherwise: 403 InvalidSignatureException / SignatureDoesNotMatch /
UnrecognizedClientException (EKS, ECR) or AuthFailure (EC2); an expired key: ExpiredTokenException
(EKS 403, ECR 400) or ExpiredToken (EC2, 400).

Known credentials (override with set_credentials):
  AKIAEMULATORSTATIC01 / static-secret-key-0000000000000000000000      (no token)
  ASIAEMULATORROLE0001 / role-secret-key-00000000000000000000000001    token "role-session-token-1"
  ASIAEMULATORROLE0002 / role-secret-key-00000000000000000000000002    token "role-session-token-2"

Data: one ACTIVE cluster "my-cluster" (tests/e2e expects its values), a catalog of instance types
(DEFAULT_TYPES, pages of --page-size), the instance i-0123456789abcdef0, kube-proxy and vpc-cni
add-on versions (DEFAULT_ADDON_VERSIONS), the partition's regions (DEFAULT_REGIONS; two not opted
in, listed only with AllRegions=true), and an ECR login AWS:DEFAULT_ECR_PASSWORD for account
111122223333.

Control plane (never signed):
  GET  /_stats    {"requests", "by_operation": {op: n}, "signature_ok", "signature_failed",
                   "proxied", "throttled", "statuses": {...}, "access_keys": {akid: n},
                   "signed_headers": [last SignedHeaders], "failures": [last 10 reasons],
                   "tokens_signed", "ecr_tokens": GetAuthorizationToken answers issued}
  POST /_control  one JSON object with an "action":
    {"action": "set_cluster", "name": "c", "cluster": {...}}            replace/add a cluster object
    {"action": "cluster_statuses", "name": "c", "statuses": ["CREATING", "ACTIVE"]}
                  each DescribeCluster answers the next status; the last one sticks
    {"action": "delete_cluster", "name": "c"}
    {"action": "set_instance", "id": "i-...", "private_dns_names": ["", "ip-..."]}
                  each DescribeInstances answers the next name; the last one sticks
    {"action": "set_instance_types", "types": [{...}], "page_size": 3}
    {"action": "fault", "operation": "DescribeCluster" | "*", "status": 429,
                  "code": "ThrottlingException", "count": 2}
                  answer the next `count` requests (default: until cleared) with this error,
                  after the signature check
    {"action": "throttle", "operation": "DescribeCluster" | "*", "rate": 10, "burst": 50}
                  token bucket: requests that find no token get 429 / RequestLimitExceeded
    {"action": "set_addon_versions", "addon": "kube-proxy",
                  "versions": [{"addonVersion": "v1.30.0-eksbuild.3",
                                "compatibilities": [{"clusterVersion": "1.30", "defaultVersion": true}]}],
                  "page_size": 2}
                  replace an add-on's versions (DescribeAddonVersions lists those with a
                  compatibility for the kubernetesVersion asked); page_size (all add-ons) splits
                  the answer into pages of that many versions
    {"action": "set_regions", "regions": ["us-west-2", {"name": "af-south-1", "opt_in": "not-opted-in"}]}
    {"action": "set_ecr_password", "password": "..."}              the password GetAuthorizationToken issues
    {"action": "deny", "operation": "DescribeCluster"}               AccessDenied for the operation
                  (AccessDeniedException for EKS and ECR, UnauthorizedOperation for EC2)
    {"action": "delay", "ms": 500}                                    delay every API answer
    {"action": "set_credentials", "credentials": {"AKID": {"secret": "...", "token": "..."}}}
    {"action": "expire_credentials", "access_key_id": "ASIA...",
                  "then_set_imds": {"url": "http://127.0.0.1:N/_control", "values": {...}}}
                  requests signed with that key get ExpiredToken; optionally the emulator then
                  posts set_values to an IMDS emulator, as if IMDS had rotated the credentials
    {"action": "clear_faults"}  {"action": "reset_stats"}  {"action": "reset"}
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from imds_emulator import serve  # the shared serve loop (standard library only)

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
CA_DATA = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nMIIBemulatorClusterCA\n-----END CERTIFICATE-----\n").decode()

DEFAULT_CREDENTIALS = {
    "AKIAEMULATORSTATIC01": {"secret": "static-secret-key-0000000000000000000000", "token": None},
    "ASIAEMULATORROLE0001": {"secret": "role-secret-key-00000000000000000000000001",
                             "token": "role-session-token-1"},
    "ASIAEMULATORROLE0002": {"secret": "role-secret-key-00000000000000000000000002",
                             "token": "role-session-token-2"},
}


def default_cluster(name="my-cluster", region="us-west-2"):
    return {
        "name": name,
        "arn": "arn:aws:eks:%s:111122223333:cluster/%s" % (region, name),
        "createdAt": 1714564800.0,
        "version": "1.30",
        "endpoint": "https://EMULATED0123456789ABCDEF.gr7.%s.eks.amazonaws.com" % region,
        "roleArn": "arn:aws:iam::111122223333:role/eks-cluster",
        "resourcesVpcConfig": {"subnetIds": ["subnet-0123456789abcdef0"], "vpcId": "vpc-0123456789abcdef0"},
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
        "status": "ACTIVE",
        "certificateAuthority": {"data": CA_DATA},
        "platformVersion": "eks.5",
        "tags": {},
    }


def itype(name, vcpus, enis, ips, hypervisor="nitro", cards=None, default_card=0, bare_metal=False):
    cards = cards or [enis]
    return {
        "instanceType": name, "vcpus": vcpus, "maxEnis": enis, "ipv4PerEni": ips,
        "ipv6PerEni": ips, "hypervisor": hypervisor, "bareMetal": bare_metal,
        "cards": cards, "defaultCard": default_card,
    }


# A small region catalog; x9.* are unknown to every table the agent embeds.
DEFAULT_TYPES = [
    itype("m5.large", 2, 3, 10),
    itype("m5.xlarge", 4, 4, 15),
    itype("m5.8xlarge", 32, 8, 30),
    itype("m4.xlarge", 4, 4, 15, hypervisor="xen"),
    itype("c6in.32xlarge", 128, 16, 50, cards=[8, 8]),
    itype("x9.large", 2, 3, 12),
    itype("x9.48xlarge", 192, 15, 50, cards=[7, 8], default_card=1),
    itype("x9.metal", 192, 15, 50, hypervisor="", bare_metal=True),
]

def addon_version(version, *compat):
    """compat: (clusterVersion, defaultVersion) pairs."""
    return {"addonVersion": version, "architecture": ["amd64", "arm64"],
            "compatibilities": [{"clusterVersion": k, "platformVersions": ["*"], "defaultVersion": d}
                                for k, d in compat],
            "requiresConfiguration": False}


DEFAULT_ADDON_VERSIONS = {
    "kube-proxy": [
        addon_version("v1.30.0-eksbuild.3", ("1.30", True)),
        addon_version("v1.30.3-eksbuild.2", ("1.30", False)),
        addon_version("v1.30.3-eksbuild.10", ("1.30", False)),
        addon_version("v1.29.0-eksbuild.1", ("1.29", True)),
        addon_version("v1.23.8-eksbuild.2", ("1.23", True)),
    ],
    "vpc-cni": [
        addon_version("v1.18.1-eksbuild.1", ("1.30", True), ("1.29", True)),
        addon_version("v1.18.3-eksbuild.2", ("1.30", False), ("1.29", False)),
    ],
}

DEFAULT_REGIONS = [
    {"name": n, "opt_in": "opt-in-not-required"}
    for n in ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "ap-northeast-1")
] + [{"name": "af-south-1", "opt_in": "not-opted-in"}, {"name": "ap-east-1", "opt_in": "not-opted-in"}]

DEFAULT_ECR_PASSWORD = "emulator-ecr-password-0000000000000001"
ECR_ACCOUNT = "111122223333"
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."

DEFAULT_INSTANCES = {
    "i-0123456789abcdef0": {"names": ["ip-10-0-12-34.us-west-2.compute.internal"], "served": 0},
}


class Bucket:
    def __init__(self, rate, burst):
        self.rate, self.burst, self.tokens, self.last = float(rate), float(burst), float(burst), time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SignatureState:
    """What every signature-checking emulator's state shares (this one's and s3_emulator.py's):
    the credential actions of the control plane and the failure log verify_sigv4 feeds. A subclass
    has lock, credentials, expired, stats, reset_stats() and reset_all()."""

    def shared_control(self, action, req):
        """Handles a control action common to the emulators (caller holds the lock); False if
        `action` is not one of them."""
        if action == "set_credentials":
            for akid, c in req["credentials"].items():
                self.credentials[akid] = {"secret": c["secret"], "token": c.get("token")}
        elif action == "expire_credentials":
            self.expired[req["access_key_id"]] = req.get("then_set_imds")
        elif action == "reset_stats":
            self.reset_stats()
        elif action == "reset":
            self.reset_all()
        else:
            return False
        return True

    def note_failure(self, why):
        self.stats["signature_failed"] += 1
        self.stats["failures"] = (self.stats["failures"] + [why])[-10:]


class State(SignatureState):
    def __init__(self, region, page_size):
        self.lock = threading.Lock()
        self.region = region
        self.initial_page_size = page_size
        self.reset_all()

    def reset_all(self):
        self.clusters = {"my-cluster": default_cluster("my-cluster", self.region)}
        self.cluster_statuses = {}
        self.types = copy.deepcopy(DEFAULT_TYPES)
        self.page_size = self.initial_page_size
        self.instances = copy.deepcopy(DEFAULT_INSTANCES)
        self.addon_versions = copy.deepcopy(DEFAULT_ADDON_VERSIONS)
        self.addon_page_size = 100
        self.regions = copy.deepcopy(DEFAULT_REGIONS)
        self.ecr_password = DEFAULT_ECR_PASSWORD
        self.credentials = copy.deepcopy(DEFAULT_CREDENTIALS)
        self.expired = {}
        self.faults = {}
        self.buckets = {}
        self.denied = set()
        self.delay_ms = 0
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"requests": 0, "by_operation": {}, "signature_ok": 0, "signature_failed": 0,
                      "proxied": 0, "throttled": 0, "statuses": {}, "access_keys": {},
                      "signed_headers": [], "failures": [], "tokens_signed": 0, "ecr_tokens": 0}

    def control(self, req):
        action = req.get("action")
        with self.lock:
            if action == "set_cluster":
                self.clusters[req["name"]] = req["cluster"]
            elif action == "cluster_statuses":
                self.cluster_statuses[req["name"]] = list(req["statuses"])
            elif action == "delete_cluster":
                self.clusters.pop(req["name"], None)
            elif action == "set_instance":
                self.instances[req["id"]] = {"names": list(req["private_dns_names"]), "served": 0}
            elif action == "set_instance_types":
                self.types = list(req["types"])
                if "page_size" in req:
                    self.page_size = int(req["page_size"])
            elif action == "set_addon_versions":
                self.addon_versions[req["addon"]] = list(req["versions"])
                if "page_size" in req:
                    self.addon_page_size = max(1, int(req["page_size"]))
            elif action == "set_regions":
                self.regions = [r if isinstance(r, dict) else {"name": r, "opt_in": "opt-in-not-required"}
                                for r in req["regions"]]
            elif action == "set_ecr_password":
                self.ecr_password = str(req["password"])
            elif action == "fault":
                self.faults[req.get("operation", "*")] = {
                    "status": int(req["status"]), "code": req.get("code", ""),
                    "count": int(req.get("count", -1))}
            elif action == "throttle":
                self.buckets[req.get("operation", "*")] = Bucket(req["rate"], req["burst"])
            elif action == "deny":
                self.denied.add(req["operation"])
            elif action == "delay":
                self.delay_ms = max(0, int(req["ms"]))
            elif action == "clear_faults":
                self.faults, self.buckets, self.denied, self.delay_ms = {}, {}, set(), 0
            elif not self.shared_control(action, req):
                raise ValueError("unknown action %r" % (action,))


AUTH_RE = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, *"
                     r"SignedHeaders=([^,]+), *Signature=([0-9a-f]{64})$")


def verify_sigv4(state, method, url, headers, body, service):
    """Returns (akid, None) when the signature is valid, else (akid or None, (code, message))."""
    auth = headers.get("Authorization", "")
    m = AUTH_RE.match(auth)
    if not m:
        return None, ("MissingAuthenticationToken", "Missing or malformed Authorization header")
    akid, day, region, svc, signed, signature = m.groups()
    with state.lock:
        creds = state.credentials.get(akid)
        expired = akid in state.expired
    if creds is None:
        return akid, ("UnrecognizedClientException", "The security token included in the request is invalid")
    if region != state.region or svc != service:
        return akid, ("SignatureDoesNotMatch",
                      "Credential should be scoped to a valid region/service, not %s/%s" % (region, svc))
    signed_names = signed.split(";")
    if "host" not in signed_names or "x-amz-date" not in signed_names:
        return akid, ("SignatureDoesNotMatch", "host and x-amz-date must be signed")
    amz_date = headers.get("X-Amz-Date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return akid, ("SignatureDoesNotMatch", "bad X-Amz-Date")
    if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900 or amz_date[:8] != day:
        return akid, ("SignatureDoesNotMatch", "Signature expired or date mismatch")
    token = headers.get("X-Amz-Security-Token")
    if creds["token"] is not None and token != creds["token"]:
        return akid, ("UnrecognizedClientException", "The security token included in the request is invalid")
    # Rebuild the request from exactly the headers the client signed and let botocore compute the
    # signature: same canonical request rules, independent code.
    signed_headers = {}
    for name in signed_names:
        values = headers.get_all(name) or []
        if not values:
            return akid, ("SignatureDoesNotMatch", "signed header %s is missing" % name)
        signed_headers[name] = ",".join(values)
    request = AWSRequest(method=method, url=url, headers=signed_headers, data=body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(akid, creds["secret"], creds["token"]), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != signature:
        return akid, ("SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you provided")
    if expired:
        return akid, ("ExpiredToken", "The security token included in the request is expired")
    with state.lock:
        if token is not None and "x-amz-security-token" in signed_names:
            state.stats["tokens_signed"] += 1
        state.stats["signed_headers"] = signed_names
    return akid, None


def ec2_error_xml(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
            '<Message>%s</Message></Error></Errors><RequestID>00000000-emulator</RequestID></Response>'
            % (escape(code), escape(message)))


def instance_type_xml(t):
    cards = "".join(
        "<item><networkCardIndex>%d</networkCardIndex><networkPerformance>Up to 10 Gigabit"
        "</networkPerformance><maximumNetworkInterfaces>%d</maximumNetworkInterfaces></item>" % (i, n)
        for i, n in enumerate(t["cards"]))
    hyp = "<hypervisor>%s</hypervisor>" % t["hypervisor"] if t["hypervisor"] else ""
    return ("<item><instanceType>%s</instanceType><currentGeneration>true</currentGeneration>%s"
            "<bareMetal>%s</bareMetal><vCpuInfo><defaultVCpus>%d</defaultVCpus></vCpuInfo>"
            "<networkInfo><networkPerformance>Up to 10 Gigabit</networkPerformance>"
            "<maximumNetworkInterfaces>%d</maximumNetworkInterfaces><maximumNetworkCards>%d"
            "</maximumNetworkCards><defaultNetworkCardIndex>%d</defaultNetworkCardIndex>"
            "<networkCards>%s</networkCards><ipv4AddressesPerInterface>%d</ipv4AddressesPerInterface>"
            "<ipv6AddressesPerInterface>%d</ipv6AddressesPerInterface><ipv6Supported>true</ipv6Supported>"
            "</networkInfo></item>"
            % (t["instanceType"], hyp, "true" if t["bareMetal"] else "false", t["vcpus"], t["maxEnis"],
               len(t["cards"]), t["defaultCard"], cards, t["ipv4PerEni"], t["ipv6PerEni"]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "AmazonEmulator"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("aws-emulator: %s\n" % (fmt % args))

    def reply(self, status, body, content_type, headers=(), count=True):
        data = body.encode("utf-8") if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", "00000000-emulator")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if count:  # API answers only, not the control plane's
            with self.server.state.lock:
                st = self.server.state.stats["statuses"]
                st[str(status)] = st.get(str(status), 0) + 1

    def error(self, service, status, code, message):
        if service == "eks":
            self.reply(status, json.dumps({"message": message}), "application/json",
                       (("x-amzn-ErrorType", code + ":http://internal.amazon.com/coral/emulator/"),))
        elif service == "ecr":
            # JSON 1.1: the code in the body's __type, with the service's namespace.
            self.reply(status, json.dumps({"__type": "com.amazonaws.ecr#" + code, "message": message}),
                       "application/x-amz-json-1.1")
        else:
            self.reply(status, ec2_error_xml(code, message), "text/xml;charset=UTF-8")

    def target(self):
        """(path, url for the verifier, proxied?) from the request line and Host header."""
        raw = self.path
        if raw.startswith("http://") or raw.startswith("https://"):
            parts = urllib.parse.urlsplit(raw)
            path = parts.path + ("?" + parts.query if parts.query else "")
            return path or "/", raw, True
        host = self.headers.get("Host", "localhost")
        return raw, "http://%s%s" % (host, raw), False

    def handle_any(self):
        state = self.server.state
        path, url, proxied = self.target()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if path.startswith("/_") and not proxied:
            return self.control_plane(path, body)
        with state.lock:
            state.stats["requests"] += 1
            if proxied:
                state.stats["proxied"] += 1
            delay = state.delay_ms
        if delay:
            time.sleep(delay / 1000.0)

        # Route.
        route, _, query = path.partition("?")
        m = re.match(r"^/clusters/([^/?]+)$", route)
        if self.command == "GET" and m:
            service, operation, params = "eks", "DescribeCluster", {"name": urllib.parse.unquote(m.group(1))}
        elif self.command == "GET" and route == "/addons/supported-versions":
            service, operation = "eks", "DescribeAddonVersions"
            params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        elif self.command == "POST" and route == "/" and self.headers.get("X-Amz-Target"):
            service, target = "ecr", self.headers.get("X-Amz-Target")
            if not target.startswith(ECR_TARGET_PREFIX) or target[len(ECR_TARGET_PREFIX):] != "GetAuthorizationToken":
                return self.error("ecr", 400, "UnknownOperationException", "unknown target %s" % target)
            operation = "GetAuthorizationToken"
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-amz-json-1.1":
                return self.error("ecr", 400, "SerializationException", "expected application/x-amz-json-1.1")
            try:
                params = json.loads(body.decode("utf-8") or "null")
                if not isinstance(params, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError):
                return self.error("ecr", 400, "SerializationException", "the body is not a JSON object")
        elif self.command == "POST" and route == "/":
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            service, operation = "ec2", params.get("Action", "")
            if operation not in ("DescribeInstanceTypes", "DescribeInstances", "DescribeRegions"):
                return self.error("ec2", 400, "InvalidAction", "The action %s is not valid" % operation)
            if params.get("Version") != "2016-11-15":
                return self.error("ec2", 400, "InvalidParameterValue", "bad Version")
        else:
            return self.reply(404, json.dumps({"message": "no such API"}), "application/json")
        with state.lock:
            by = state.stats["by_operation"]
            by[operation] = by.get(operation, 0) + 1

        akid, problem = verify_sigv4(state, self.command, url, self.headers, body, service)
        with state.lock:
            if akid:
                state.stats["access_keys"][akid] = state.stats["access_keys"].get(akid, 0) + 1
        if problem:
            code, message = problem
            if code == "ExpiredToken":
                with state.lock:
                    rotate = state.expired.get(akid)
                if rotate:
                    post_json(rotate["url"], {"action": "set_values", "values": rotate["values"]})
                if service == "eks":
                    return self.error("eks", 403, "ExpiredTokenException", message)
                if service == "ecr":
                    return self.error("ecr", 400, "ExpiredTokenException", message)
                return self.error("ec2", 400, "ExpiredToken", message)
            with state.lock:
                state.note_failure("%s %s: %s: %s" % (operation, akid, code, message))
            if service == "ec2" and code != "SignatureDoesNotMatch":
                code = "AuthFailure"
            if service in ("eks", "ecr") and code == "SignatureDoesNotMatch":
                code = "InvalidSignatureException"
            return self.error(service, 403 if service == "eks" or code != "AuthFailure" else 401, code, message)
        with state.lock:
            state.stats["signature_ok"] += 1

        # Injected behaviour, after authentication as AWS does it.
        with state.lock:
            if operation in state.denied:
                deny = True
            else:
                deny = False
            fault = state.faults.get(operation) or state.faults.get("*")
            if fault is not None and fault["count"] != 0:
                if fault["count"] > 0:
                    fault["count"] -= 1
                fault = dict(fault)
            else:
                fault = None
            bucket = state.buckets.get(operation) or state.buckets.get("*")
            throttled = bucket is not None and not bucket.take()
            if throttled:
                state.stats["throttled"] += 1
        if deny:
            action = service + ":" + operation
            msg = ("User: arn:aws:sts::111122223333:assumed-role/eks-node-role/%s is not authorized to "
                   "perform: %s" % ("i-0123456789abcdef0", action))
            if service == "eks":
                return self.error("eks", 403, "AccessDeniedException", msg)
            if service == "ecr":
                return self.error("ecr", 400, "AccessDeniedException", msg + " on resource: *")
            return self.error("ec2", 403, "UnauthorizedOperation", msg)
        if fault is not None:
            code = fault["code"] or ("ThrottlingException" if fault["status"] == 429 else "InternalFailure")
            if fault["status"] == 429 or "Throttl" in code or code == "RequestLimitExceeded":
                with state.lock:
                    state.stats["throttled"] += 1
            return self.error(service, fault["status"], code, "injected fault")
        if throttled:
            if service == "eks":
                return self.error("eks", 429, "TooManyRequestsException", "Rate exceeded")
            if service == "ecr":
                return self.error("ecr", 400, "ThrottlingException", "Rate exceeded")
            return self.error("ec2", 503, "RequestLimitExceeded", "Request limit exceeded.")

        if operation == "DescribeCluster":
            return self.describe_cluster(params["name"])
        if operation == "DescribeInstanceTypes":
            return self.describe_instance_types(params)
        if operation == "DescribeAddonVersions":
            return self.describe_addon_versions(params)
        if operation == "GetAuthorizationToken":
            return self.get_authorization_token()
        if operation == "DescribeRegions":
            return self.describe_regions(params)
        return self.describe_instances(params)

    def describe_addon_versions(self, params):
        state = self.server.state
        addon, k8s = params.get("addonName", ""), params.get("kubernetesVersion", "")
        try:
            max_results = int(params.get("maxResults", "100"))
            start = int(base64.b64decode(params["nextToken"]).decode()) if params.get("nextToken") else 0
        except (ValueError, UnicodeDecodeError):
            return self.error("eks", 400, "InvalidParameterException", "bad maxResults or nextToken")
        if not 1 <= max_results <= 100:
            return self.error("eks", 400, "InvalidParameterException", "maxResults must be 1..100")
        with state.lock:
            known = addon in state.addon_versions
            versions = copy.deepcopy(state.addon_versions.get(addon, []))
            size = min(max_results, state.addon_page_size)
        if k8s:
            versions = [v for v in versions
                        if any(c.get("clusterVersion") == k8s for c in v.get("compatibilities", []))]
        page = versions[start:start + size]
        nxt = start + size
        next_token = base64.b64encode(str(nxt).encode()).decode() if nxt < len(versions) else None
        addons = []
        if known:
            addons = [{"addonName": addon, "type": "networking", "addonVersions": page,
                       "publisher": "eks", "owner": "aws"}]
        self.reply(200, json.dumps({"addons": addons, "nextToken": next_token}), "application/json")

    def get_authorization_token(self):
        state = self.server.state
        with state.lock:
            password = state.ecr_password
            state.stats["ecr_tokens"] += 1
        token = base64.b64encode(("AWS:" + password).encode()).decode()
        data = {"authorizationData": [{
            "authorizationToken": token,
            "expiresAt": round(time.time() + 12 * 3600, 3),
            "proxyEndpoint": "https://%s.dkr.ecr.%s.amazonaws.com" % (ECR_ACCOUNT, state.region)}]}
        self.reply(200, json.dumps(data), "application/x-amz-json-1.1")

    def describe_regions(self, params):
        state = self.server.state
        all_regions = params.get("AllRegions", "false").lower() == "true"
        with state.lock:
            regions = list(state.regions)
        items = "".join(
            "<item><regionName>%s</regionName><regionEndpoint>ec2.%s.amazonaws.com</regionEndpoint>"
            "<optInStatus>%s</optInStatus></item>" % (escape(r["name"]), escape(r["name"]), escape(r["opt_in"]))
            for r in regions if all_regions or r["opt_in"] != "not-opted-in")
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeRegionsResponse xmlns="%s">'
               "<requestId>00000000-emulator</requestId><regionInfo>%s</regionInfo></DescribeRegionsResponse>"
               % (EC2_NS, items))
        self.reply(200, xml, "text/xml;charset=UTF-8")

    def describe_cluster(self, name):
        state = self.server.state
        with state.lock:
            cluster = copy.deepcopy(state.clusters.get(name))
            seq = state.cluster_statuses.get(name)
            if cluster is not None and seq:
                cluster["status"] = seq[0]
                if len(seq) > 1:
                    seq.pop(0)
        if cluster is None:
            return self.error("eks", 404, "ResourceNotFoundException", "No cluster found for name: %s." % name)
        self.reply(200, json.dumps({"cluster": cluster}), "application/json")

    def describe_instance_types(self, params):
        state = self.server.state
        wanted = [v for k, v in sorted(params.items()) if k.startswith("InstanceType.")]
        with state.lock:
            types = list(state.types)
            page_size = state.page_size
        if wanted:
            known = {t["instanceType"]: t for t in types}
            missing = [w for w in wanted if w not in known]
            if missing:
                return self.error("ec2", 400, "InvalidInstanceType",
                                  "The following supplied instance types do not exist: [%s]" % ", ".join(missing))
            items, next_token = [known[w] for w in wanted], ""
        else:
            size = min(int(params.get("MaxResults", "100")), page_size or 100)
            try:
                start = int(base64.b64decode(params["NextToken"]).decode()) if params.get("NextToken") else 0
            except (ValueError, UnicodeDecodeError):
                return self.error("ec2", 400, "InvalidParameterValue", "bad NextToken")
            items = types[start:start + size]
            nxt = start + size
            next_token = base64.b64encode(str(nxt).encode()).decode() if nxt < len(types) else ""
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstanceTypesResponse xmlns="%s">'
               "<requestId>00000000-emulator</requestId><instanceTypeSet>%s</instanceTypeSet>%s"
               "</DescribeInstanceTypesResponse>"
               % (EC2_NS, "".join(instance_type_xml(t) for t in items),
                  "<nextToken>%s</nextToken>" % escape(next_token) if next_token else ""))
        self.reply(200, xml, "text/xml;charset=UTF-8")

    def describe_instances(self, params):
        state = self.server.state
        iid = params.get("InstanceId.1", "")
        with state.lock:
            inst = state.instances.get(iid)
            if inst is not None:
                names = inst["names"]
                name = names[min(inst["served"], len(names) - 1)] if names else ""
                inst["served"] += 1
        if inst is None:
            return self.error("ec2", 400, "InvalidInstanceID.NotFound",
                              "The instance ID '%s' does not exist" % iid)
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="%s">'
               "<requestId>00000000-emulator</requestId><reservationSet><item>"
               "<reservationId>r-0fedcba9876543210</reservationId><ownerId>111122223333</ownerId>"
               "<instancesSet><item><instanceId>%s</instanceId><instanceState><code>16</code>"
               "<name>running</name></instanceState><privateDnsName>%s</privateDnsName>"
               "<instanceType>m5.large</instanceType></item></instancesSet></item></reservationSet>"
               "</DescribeInstancesResponse>" % (EC2_NS, escape(iid), escape(name)))
        self.reply(200, xml, "text/xml;charset=UTF-8")

    def control_plane(self, path, body):
        state = self.server.state
        if self.command == "GET" and path == "/_stats":
            with state.lock:
                data = json.dumps(state.stats)
            return self.reply(200, data, "application/json", count=False)
        if self.command == "POST" and path == "/_control":
            try:
                req = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(req, dict):
                    raise ValueError("body must be a JSON object")
                state.control(req)
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(400, json.dumps({"error": str(e)}), "application/json", count=False)
            return self.reply(200, json.dumps({"ok": True}), "application/json", count=False)
        return self.reply(405, "method not allowed\n", "text/plain", count=False)

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any


def post_json(url, obj):
    req = urllib.request.Request(url, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(req, timeout=5).read()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv):
    p = argparse.ArgumentParser(description="Loopback AWS API emulator (see module docstring).")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--region", default="us-west-2")
    p.add_argument("--page-size", type=int, default=100, help="DescribeInstanceTypes page size cap")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    server = Server((args.bind, args.port), Handler)
    server.state = State(args.region, args.page_size)
    server.verbose = args.verbose
    return serve(server, args.port_file, "aws-emulator", args.verbose)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
