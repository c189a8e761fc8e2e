#!/bin/bash
# End-to-end: accelerated nodes. The agent binary runs against the IMDS emulator with a scratch
# root holding a fake sysfs PCI bus built from a real H100 node (tests/support/h100-node.txt) and,
# when asked, an empty executable /usr/bin/nvidia-container-runtime.
#   usage: gpu_test.sh /path/to/eks-node-agent
AGENT=${1:?usage: gpu_test.sh /path/to/eks-node-agent}
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FIXTURE="$REPO/tests/support/h100-node.txt"
NVIDIA_RUNTIME=/usr/bin/nvidia-container-runtime

# put_pci ROOT ADDR VENDOR DEVICE CLASS: one PCI function, laid out as the kernel does (attributes
# under /sys/devices/pci0000:00/ADDR, a relative symlink in /sys/bus/pci/devices).
put_pci() {
  local dir="$1/sys/devices/pci0000:00/$2"
  mkdir -p "$dir" "$1/sys/bus/pci/devices"
  echo "$3" >"$dir/vendor"
  echo "$4" >"$dir/device"
  echo "$5" >"$dir/class"
  ln -sfn "../../../devices/pci0000:00/$2" "$1/sys/bus/pci/devices/$2"
}

# put_fixture_bus ROOT: the fixture's "## /sys/bus/pci/devices" section.
put_fixture_bus() {
  local addr rest vendor device class
  while read -r addr rest; do
    vendor=$(grep -o 'vendor=0x[0-9a-f]*' <<<"$rest" | cut -d= -f2)
    device=$(grep -o 'device=0x[0-9a-f]*' <<<"$rest" | cut -d= -f2)
    class=$(grep -o 'class=0x[0-9a-f]*' <<<"$rest" | cut -d= -f2)
    put_pci "$1" "$addr" "$vendor" "$device" "$class"
  done < <(sed -n '/^## \/sys\/bus\/pci\/devices/,/^## /{/^##/d;p}' "$FIXTURE")
}

install_runtime() {
  mkdir -p "$1/usr/bin"
  : >"$1$NVIDIA_RUNTIME"
  chmod 0755 "$1$NVIDIA_RUNTIME"
}

# The summary line goes to stderr with the other journal lines, as [SUMMARY].
run_agent() {
  agent "$1" --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" gpu-cluster
}

status_of() { echo "$1/run/eks-node-agent/status.json"; }
config_of() { echo "$1/etc/containerd/config.toml"; }
# diag_ids STATUS: the diagnostic ids in the status file, one a line.
diag_ids() { "$PY" -c 'import json,sys; [print(d["id"]) for d in json.load(open(sys.argv[1]))["diagnostics"]]' "$1"; }
has_diag() { diag_ids "$1" | grep -qx "$2" || { echo "    (no diagnostic $2 in $1)"; return 1; }; }
no_diag() { ! diag_ids "$1" | grep -qx "$2" || { echo "    (diagnostic $2 in $1)"; return 1; }; }

start_emulator
imds_set '{"latest/meta-data/instance-type": "p5.4xlarge"}'

# --- one H100 with the NVIDIA container runtime -------------------------------------------------
R=$(new_root h100 16)
put_fixture_bus "$R"
install_runtime "$R"
run_agent "$R"
check "h100: agent succeeds" expect_rc 0
check "h100: containerd default runtime is nvidia" contains "$(config_of "$R")" 'default_runtime_name = "nvidia"'
check "h100: nvidia runtime BinaryName" contains "$(config_of "$R")" "BinaryName = \"$NVIDIA_RUNTIME\""
check "h100: nvidia runtime uses the runc v2 shim" \
  contains "$(config_of "$R")" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]'
check "h100: containerd config is version 2 without a version file" contains "$(config_of "$R")" 'version = 2'
check "h100: summary says gpus=1 runtime=nvidia" contains "$WORK/err" "gpus=1 runtime=nvidia"
check "h100: status counts one GPU" json_eq "$(status_of "$R")" 'd["values"]["nvidiaGPUs"]' 1
check "h100: status names the default runtime" json_eq "$(status_of "$R")" 'd["values"]["containerdDefaultRuntime"]' '"nvidia"'
check "h100: status lists the GPU address" \
  json_eq "$(status_of "$R")" 'd["facts"]["accelerators"]["nvidiaPCIAddresses"]' '["0000:00:06.0"]'
check "h100: GPU_CONFIGURED reported" has_diag "$(status_of "$R")" GPU_CONFIGURED
check "h100: containerd restart was planned" \
  json_eq "$(status_of "$R")" '[a["verb"] for a in d["unitActions"] if a["unit"] == "containerd.service"]' '["start"]'

# Re-run: nothing changes, nothing is restarted.
before=$(snapshot "$R")
run_agent "$R"
check "h100 rerun: agent succeeds" expect_rc 0
check "h100 rerun: no file touched" test "$before" = "$(snapshot "$R")"
check "h100 rerun: containerd config unchanged" \
  json_eq "$(status_of "$R")" '[f["outcome"] for f in d["files"] if f["path"] == "/etc/containerd/config.toml"]' '["unchanged"]'
check "h100 rerun: containerd not restarted" \
  json_eq "$(status_of "$R")" '[a for a in d["unitActions"] if a["unit"] == "containerd.service"]' '[]'

# The toolkit is removed: a warning, runc is the default again.
rm -f "$R$NVIDIA_RUNTIME"
run_agent "$R"
check "h100 without runtime: agent succeeds" expect_rc 0
check "h100 without runtime: runc is the default" contains "$(config_of "$R")" 'default_runtime_name = "runc"'
check "h100 without runtime: no nvidia runtime left" lacks "$(config_of "$R")" "nvidia"
check "h100 without runtime: warning on stderr" contains "$WORK/err" "GPU_NO_RUNTIME"
check "h100 without runtime: warning in status" has_diag "$(status_of "$R")" GPU_NO_RUNTIME
check "h100 without runtime: summary says runtime=runc" contains "$WORK/err" "gpus=1 runtime=runc"
check "h100 without runtime: containerd config updated" \
  json_eq "$(status_of "$R")" '[f["outcome"] for f in d["files"] if f["path"] == "/etc/containerd/config.toml"]' '["updated"]'

# --- four GPUs and an audio function, containerd 2.x ------------------------------------------
R=$(new_root quad 16)
put_fixture_bus "$R"
for slot in 07 08 09; do put_pci "$R" "0000:00:$slot.0" 0x10de 0x2330 0x030200; done
put_pci "$R" 0000:00:06.1 0x10de 0x22ba 0x040300
install_runtime "$R"
echo "2.0.5" >"$R/etc/eks/containerd-version.txt"
run_agent "$R"
check "quad: agent succeeds" expect_rc 0
check "quad: four GPUs, the audio function not counted" json_eq "$(status_of "$R")" 'd["values"]["nvidiaGPUs"]' 4
check "quad: config version 3" contains "$(config_of "$R")" 'version = 3'
check "quad: v3 default runtime nvidia" contains "$(config_of "$R")" 'default_runtime_name = "nvidia"'
check "quad: v3 nvidia runtime table" \
  contains "$(config_of "$R")" "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia.options]"
check "quad: v3 BinaryName" contains "$(config_of "$R")" "BinaryName = \"$NVIDIA_RUNTIME\""
check "quad: v3 pinned sandbox image" contains "$(config_of "$R")" "[plugins.'io.containerd.cri.v1.images'.pinned_images]"
check "quad: summary says gpus=4" contains "$WORK/err" "gpus=4 runtime=nvidia"

# --- no GPU: nothing changes, even with the runtime installed ----------------------------------
R=$(new_root nogpu 2)
put_fixture_bus "$R"
rm -rf "$R/sys/devices/pci0000:00/0000:00:06.0" "$R/sys/bus/pci/devices/0000:00:06.0"
install_runtime "$R"
run_agent "$R"
check "no gpu: agent succeeds" expect_rc 0
check "no gpu: runc is the default" contains "$(config_of "$R")" 'default_runtime_name = "runc"'
check "no gpu: no nvidia runtime" lacks "$(config_of "$R")" "nvidia"
check "no gpu: summary says nothing about GPUs" lacks "$WORK/err" "gpus="
check "no gpu: status counts zero GPUs" json_eq "$(status_of "$R")" 'd["values"]["nvidiaGPUs"]' 0
check "no gpu: no GPU diagnostics" no_diag "$(status_of "$R")" GPU_NO_RUNTIME

finish
