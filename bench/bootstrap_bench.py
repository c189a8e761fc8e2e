#!/usr/bin/env python3
"""Benchmark: a full bootstrap of a scratch root against the project's IMDS emulator.

For each injected IMDS latency it runs the agent N times in two modes: "fresh" (a new scratch root
each time, so every file is written and synced) and "converged" (a root that is already up to date,
the every-boot case: nothing written). It prints wall time, CPU time (user+sys), peak RSS and IMDS
round trips, measured on the agent process itself (bench/measure.c, wait4(2)), plus the
emulator's measured round-trip time (RTT) and the target wall time 4 x RTT + 10 ms.
Prints numbers; never fails on them.

  bench/bootstrap_bench.py BUILD/eks-node-agent [--runs 30] [--latency 0,2] [--root-dir /dev/shm]
                           [--platform al2|al2023]

--platform al2023 makes each scratch root an Amazon Linux 2023 image (os-release, the credential
provider binary), so the agent writes nodeadm's layout from the same bootstrap.sh flags.
--flow nodeadm (implies al2023) runs `eks-node-agent nodeadm init` (both phases in one process)
from a NodeConfig file with InstanceIdNodeName (no EC2).
--flow nodeadm-units is the AL2023 image's boot as its two units run it: two processes, the command
lines of nodeadm-config.service (`init --skip run -c imds://user-data --config-cache ...`) and
nodeadm-run.service (`init --skip config -c imds://user-data -c file:///etc/eks/nodeadm.d/
--config-cache ...`), NodeConfig user data from the emulator; a row sums both processes' wall, CPU,
requests and round trips (peak RSS: the larger).
--flow nodeadm-ec2 is --flow nodeadm without InstanceIdNodeName: the node name comes from EC2
DescribeInstances, signed with the instance profile's credentials from IMDS, against the project's
AWS emulator (tests/support/aws_emulator.py, needs Debian's python3-botocore) with the same
injected latency as IMDS. The "ec2" column counts its requests.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

PLATFORM = "al2"
FLOW = "bootstrap"
AGENT_ENV = None  # the agent's environment: this one, plus the AWS endpoint in the nodeadm-ec2 flow
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJiZW5jaAotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="


def start_emulator(tmp, script="imds_emulator.py", python=sys.executable):
    port_file = os.path.join(tmp, script + ".port")
    proc = subprocess.Popen([python, os.path.join(REPO, "tests/support", script),
                             "--port", "0", "--port-file", port_file],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(port_file) and open(port_file).read().strip():
            break
        time.sleep(0.01)
    return proc, "http://127.0.0.1:" + open(port_file).read().strip()


def control(url, body):
    req = urllib.request.Request(url + "/_control", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req, timeout=5).read()


def ec2_requests(url):
    with urllib.request.urlopen(url + "/_stats", timeout=5) as r:
        return json.loads(r.read())["by_operation"].get("DescribeInstances", 0)


# The instance profile the IMDS emulator serves in the nodeadm-ec2 flow: a key the AWS emulator knows.
ROLE = {"latest/meta-data/iam/security-credentials/": "eks-node-role",
        "latest/meta-data/iam/security-credentials/eks-node-role": json.dumps({
            "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAEMULATORROLE0001",
            "SecretAccessKey": "role-secret-key-00000000000000000000000001",
            "Token": "role-session-token-1", "Expiration": "2099-01-01T00:00:00Z"})}


def emulator_rtt_ms(url, n=30):
    """Median time of one IMDS GET on a kept-alive connection: what one round trip costs here."""
    import http.client
    host, port = url.split("//")[1].split(":")
    c = http.client.HTTPConnection(host, int(port))
    c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    token = c.getresponse().read().decode()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", "/latest/meta-data/mac", headers={"X-aws-ec2-metadata-token": token})
        c.getresponse().read()
        samples.append((time.perf_counter() - t0) * 1000)
    c.close()
    return statistics.median(samples)


def make_root(root):
    os.makedirs(os.path.join(root, "etc/eks"))
    os.makedirs(os.path.join(root, "sys/devices/system/cpu"))
    open(os.path.join(root, "etc/eks/kubelet-version.txt"), "w").write("v1.30.4\n")
    open(os.path.join(root, "sys/devices/system/cpu/online"), "w").write("0-1\n")
    if PLATFORM == "al2023":
        open(os.path.join(root, "etc/os-release"), "w").write('ID="amzn"\nVERSION_ID="2023"\n')
        open(os.path.join(root, "etc/eks/containerd-version.txt"), "w").write("1.7.27\n")  # as the AMI has
        os.makedirs(os.path.join(root, "etc/eks/image-credential-provider"))
        open(os.path.join(root, "etc/eks/image-credential-provider/ecr-credential-provider"), "w").write("")


NODECONFIG = ("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: bench\n"
              "    apiServerEndpoint: https://BENCH.gr7.us-west-2.eks.amazonaws.com\n"
              f"    certificateAuthority: {CA}\n    cidr: 10.100.0.0/16\n  kubelet:\n    flags: [--node-labels=bench=1]\n"
              "  featureGates:\n    InstanceIdNodeName: true\n")
NODECONFIG_EC2 = NODECONFIG.split("  featureGates:")[0]


def measure(args, tmp):
    """One agent process under bench_measure: its wall, CPU, peak RSS and IMDS requests/round trips."""
    errfile = os.path.join(tmp, "stderr")
    with open(errfile, "w") as ef:
        res = subprocess.run([MEASURE] + args, stdout=subprocess.PIPE, stderr=ef, check=True, env=AGENT_ENV)
    wall_us, cpu_us, rss_kib, status = (int(x) for x in res.stdout.decode().split()[-4:])
    err = open(errfile).read()
    if status != 0:
        raise SystemExit(f"agent failed:\n{err}")
    m = re.search(r"(\d+) IMDS requests in (\d+) round trips", err) or re.search(r"()()", "")
    return {"wall_ms": wall_us / 1000, "cpu_ms": cpu_us / 1000,
            "rss_kib": rss_kib, "requests": int(m.group(1) or 0), "round_trips": int(m.group(2) or 0)}


def one_run(agent, url, tmp, i, converged=False):
    root = os.path.join(tmp, f"root{i}")
    if not os.path.exists(root):
        make_root(root)
    if FLOW == "nodeadm-units":
        cache = ["--config-cache", "/run/eks/nodeadm/config.json", "--root", root, "--imds-endpoint", url]
        a = measure([agent, "nodeadm", "init", "--skip", "run", "-c", "imds://user-data"] + cache, tmp)
        b = measure([agent, "nodeadm", "init", "--skip", "config", "-c", "imds://user-data",
                     "-c", "file:///etc/eks/nodeadm.d/"] + cache, tmp)
        if not converged:
            shutil.rmtree(root)
        return {"wall_ms": a["wall_ms"] + b["wall_ms"], "cpu_ms": a["cpu_ms"] + b["cpu_ms"],
                "rss_kib": max(a["rss_kib"], b["rss_kib"]), "requests": a["requests"] + b["requests"],
                "round_trips": a["round_trips"] + b["round_trips"]}
    if FLOW in ("nodeadm", "nodeadm-ec2"):
        nc = os.path.join(root, "etc/eks/nodeconfig.yaml")  # a node path: sources are read under --root
        if not os.path.exists(nc):
            open(nc, "w").write(NODECONFIG_EC2 if FLOW == "nodeadm-ec2" else NODECONFIG)
        args = [agent, "nodeadm", "init", "-c", "file:///etc/eks/nodeconfig.yaml", "--root", root,
                "--imds-endpoint", url, "--config-cache", "/run/eks/nodeadm/config.json"]
    else:
        args = [agent, "--root", root, "--imds-endpoint", url, "--cluster", "bench",
                "--apiserver-endpoint", "https://BENCH.gr7.us-west-2.eks.amazonaws.com",
                "--b64-cluster-ca", CA, "--kubelet-extra-args", "--node-labels=bench=1"]
    result = measure(args, tmp)
    if not converged:
        shutil.rmtree(root)
    return result


def main():
    global MEASURE, PLATFORM, FLOW, AGENT_ENV
    ap = argparse.ArgumentParser()
    ap.add_argument("agent")
    ap.add_argument("--root-dir", default=None,
                    help="where scratch roots go (default: a temp dir on disk; /dev/shm for tmpfs)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--latency", default="0,2")
    ap.add_argument("--platform", choices=("al2", "al2023"), default="al2")
    ap.add_argument("--flow", choices=("bootstrap", "nodeadm", "nodeadm-units", "nodeadm-ec2"),
                    default="bootstrap")
    a = ap.parse_args()
    FLOW = a.flow
    PLATFORM = "al2023" if a.flow.startswith("nodeadm") else a.platform
    MEASURE = os.path.join(os.path.dirname(os.path.abspath(a.agent)), "bench_measure")
    tmp = tempfile.mkdtemp(prefix="eks-bench.", dir=a.root_dir)
    proc, url = start_emulator(tmp)
    aws = aws_url = None
    try:
        if FLOW == "nodeadm-units":
            control(url, {"action": "set_values", "values": {"latest/user-data": NODECONFIG}})
        if FLOW == "nodeadm-ec2":
            aws, aws_url = start_emulator(tmp, "aws_emulator.py", "/usr/bin/python3")
            control(url, {"action": "set_values", "values": ROLE})
            control(aws_url, {"action": "set_instance", "id": "i-0123456789abcdef0",
                              "private_dns_names": ["ip-10-0-99-1.us-west-2.compute.internal"]})
            AGENT_ENV = dict(os.environ, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=aws_url)
        print(f"{'mode':>9} {'latency':>7} {'RTT':>6} {'runs':>4} {'wall p50':>9} {'wall p90':>9} "
              f"{'cpu p50':>8} {'cpu max':>8} {'rss max':>8} {'reqs':>4} {'RTs':>3} {'ec2':>3} {'target wall':>12}")
        for lat in [int(x) for x in a.latency.split(",")]:
            control(url, {"action": "set_latency", "ms": lat})
            if aws_url:
                control(aws_url, {"action": "delay", "ms": lat})
            rtt = emulator_rtt_ms(url)
            for mode in ("fresh", "converged"):
                conv = mode == "converged"
                one_run(a.agent, url, tmp, "warm", conv)  # page cache, emulator threads; primes the root
                ec2_before = ec2_requests(aws_url) if aws_url else 0
                runs = [one_run(a.agent, url, tmp, "warm" if conv else i, conv) for i in range(a.runs)]
                ec2 = (ec2_requests(aws_url) - ec2_before) / a.runs if aws_url else 0
                walls = sorted(r["wall_ms"] for r in runs)
                cpus = sorted(r["cpu_ms"] for r in runs)
                rts = max(r["round_trips"] for r in runs)
                target = f"<= {4 * rtt + 10:.1f} ms"
                print(f"{mode:>9} {lat:>5}ms {rtt:>4.1f}ms {a.runs:>4} {statistics.median(walls):>7.1f}ms "
                      f"{walls[int(len(walls) * 0.9) - 1]:>7.1f}ms {statistics.median(cpus):>6.1f}ms "
                      f"{cpus[-1]:>6.1f}ms {max(r['rss_kib'] for r in runs) / 1024:>6.1f}MiB "
                      f"{runs[0]['requests']:>4} {rts:>3} {ec2:>3g} {target:>12}")
                shutil.rmtree(os.path.join(tmp, "rootwarm"), ignore_errors=True)
    finally:
        for p in (proc, aws):
            if p:
                p.terminate()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
