#!/bin/bash
# Installs every Debian package the build, the demo and the tests need (Debian 12, as root).
# Idempotent and quiet: packages already present are not reinstalled.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config python3
  libboost-dev nlohmann-json3-dev libcurl4-openssl-dev libsystemd-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev doctest-dev
  libyaml-dev zlib1g-dev   # NodeConfig user data: YAML documents, gzip'd user data
  clang libclang-rt-14-dev  # tests/fuzz: libFuzzer with ASan/UBSan (ctest fuzz_smoke)
  systemd systemd-container dbus
  iproute2  # tests/e2e/networkd_test.sh: veth links for systemd-networkd (ctest e2e_networkd)
  xfsprogs  # tests/e2e/disks_test.sh: real mkfs.xfs on loop devices (ctest e2e_disks)
  busybox-static  # tests/e2e/build_test.sh: a static /bin/sh inside scratch image roots (chroot)
  python3-botocore  # tests/support/aws_emulator.py verifies SigV4 with botocore (/usr/bin/python3)
  help2man  # eks-node-agent(8), generated from --help at build time
  ccache  # scripts/build.sh and the from-source .deb (ctest deb_from_source) reuse compiled objects
  debhelper rpm lintian rpmlint  # scripts/package.sh (.deb, .rpm) and their linters (ctest packaging)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "installed: ${missing[*]}"
fi
