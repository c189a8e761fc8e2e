#!/usr/bin/python3
"""build-mode cost: wall, CPU and peak RSS of `eks-node-agent build-mode` fetching a release of
realistic size from the project's S3 emulator on loopback into a scratch root, measured on the
agent process itself (bench/measure.c), for a fresh root and for a re-run (converged).

    python3 bench/build_bench.py build/eks-node-agent [--runs 3] [--root-dir /dev/shm]

Binary sizes are those of the EKS 1.30 amd64 release (rounded, MiB); the bytes are random so that
nothing compresses. install_packages=false: package managers are not what is measured.
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SIZES_MIB = {"kubelet": 110, "kubectl": 50, "ecr-credential-provider": 20, "aws-iam-authenticator": 45}
VERSION, DATE, ARCH = "1.30.4", "2024-07-10", "amd64"


def make_release(root):
    prefix = os.path.join(root, "amazon-eks", VERSION, DATE, "bin", "linux", ARCH)
    os.makedirs(prefix)
    for name, mib in SIZES_MIB.items():
        data = os.urandom(mib << 20)
        with open(os.path.join(prefix, name), "wb") as f:
            f.write(data)
        with open(os.path.join(prefix, name + ".sha256"), "w") as f:
            f.write("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name))


def start_s3(tmp, bucket_root):
    here = os.path.dirname(os.path.abspath(__file__))
    port_file = os.path.join(tmp, "s3.port")
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(here, "..", "tests", "support", "s3_emulator.py"),
                             "--root", bucket_root, "--port", "0", "--port-file", port_file],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.exists(port_file) and open(port_file).read().strip():
            break
        time.sleep(0.02)
    return proc, "http://127.0.0.1:%s" % open(port_file).read().strip()


def one_run(measure, agent, root, url):
    env = dict(os.environ, AWS_ENDPOINT_URL_S3=url, AWS_EC2_METADATA_DISABLED="true")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    out = subprocess.run([measure, agent, "build-mode", "--root", root, "kubernetes_version=" + VERSION,
                          "kubernetes_build_date=" + DATE, "arch=" + ARCH, "install_packages=false"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    wall_us, cpu_us, rss_kib, rc = (int(x) for x in out.stdout.split()[-4:])
    if rc != 0:
        sys.exit("build-mode exited %d" % rc)
    return wall_us / 1000.0, cpu_us / 1000.0, rss_kib / 1024.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("agent")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--root-dir", default=None, help="where scratch roots go (default: TMPDIR)")
    a = p.parse_args()
    agent = os.path.abspath(a.agent)
    measure = os.path.join(os.path.dirname(agent), "bench_measure")
    total_mib = sum(SIZES_MIB.values())
    with tempfile.TemporaryDirectory(dir=a.root_dir) as tmp:
        make_release(os.path.join(tmp, "bucket"))
        proc, url = start_s3(tmp, os.path.join(tmp, "bucket"))
        try:
            rows = {"fresh": [], "converged": []}
            for i in range(a.runs):
                root = os.path.join(tmp, "root%d" % i)
                os.makedirs(root)
                rows["fresh"].append(one_run(measure, agent, root, url))
                rows["converged"].append(one_run(measure, agent, root, url))
                shutil.rmtree(root)
        finally:
            proc.terminate()
    print("release: %d MiB in 4 binaries (%s)" % (total_mib, ", ".join("%s %d" % kv for kv in SIZES_MIB.items())))
    print("%-9s %4s %10s %10s %10s %10s" % ("mode", "runs", "wall p50", "cpu p50", "rss max", "MiB/s"))
    for mode, r in rows.items():
        wall = statistics.median(x[0] for x in r)
        cpu = statistics.median(x[1] for x in r)
        rss = max(x[2] for x in r)
        rate = total_mib / (wall / 1000.0) if mode == "fresh" else float("nan")
        print("%-9s %4d %8.0fms %8.0fms %7.1fMiB %10.0f" % (mode, len(r), wall, cpu, rss, rate))


if __name__ == "__main__":
    main()
