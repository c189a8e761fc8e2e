#!/bin/bash
# Build mode end to end: the agent binary builds scratch image roots from the loopback S3 emulator
# (tests/support/s3_emulator.py, SigV4 verified with botocore), running package steps in the root
# with chroot (a static busybox /bin/sh and a fake dnf that "installs" containerd), then boot mode
# runs against the built root with the IMDS emulator. Usage:
#   build_test.sh PATH/TO/eks-node-agent
set -u
AGENT=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
[ -x /bin/busybox ] || { echo "not ok - /bin/busybox missing (scripts/install-deps.sh installs busybox-static)"; exit 1; }
start_emulator

VERSION=1.30.4
DATE=2024-07-10
PREFIX="$VERSION/$DATE/bin/linux/amd64"
BUCKET_DIR="$WORK/s3"
/usr/bin/python3 "$REPO/tests/support/s3_emulator.py" --make-release "$BUCKET_DIR" --bucket amazon-eks \
  --version "$VERSION" --build-date "$DATE" --arch amd64 >/dev/null
# A kubelet that leaves a mark when run: boot mode must read the version fact instead.
printf '#!/bin/sh\necho run >>"${KUBELET_MARK:-/dev/null}"\necho "Kubernetes v%s-eks-036c24b"\n' "$VERSION" \
  >"$BUCKET_DIR/amazon-eks/$PREFIX/kubelet"
(cd "$BUCKET_DIR/amazon-eks/$PREFIX" && sha256sum kubelet >kubelet.sha256)
start_server S3 s3_emulator.py --root "$BUCKET_DIR"
s3_control() { post_control "$S3_URL/_control" "$1"; }
s3_stat() { get_stat "$S3_URL/_stats" "$1"; }

unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_ENDPOINT_URL
export AWS_ENDPOINT_URL_S3="$S3_URL"
VARS=(kubernetes_version=$VERSION kubernetes_build_date=$DATE)

# new_image NAME: a root that chroot can run shell scripts in, with a fake dnf.
new_image() {
  local r="$WORK/$1"
  mkdir -p "$r/bin" "$r/usr/bin" "$r/var/log" "$r/tmp"
  cp /bin/busybox "$r/bin/busybox"
  for applet in sh cat echo printf chmod mkdir sed head; do ln -sf busybox "$r/bin/$applet"; done
  cat >"$r/usr/bin/dnf" <<'DNF'
#!/bin/sh
echo "dnf $*" >>/var/log/fake-dnf.log
case "$*" in
  *"install -y containerd-"*)
    # Like a real package manager: an installed package is left alone.
    [ -e /usr/bin/containerd ] && exit 0
    printf '#!/bin/sh\necho "containerd github.com/containerd/containerd v1.7.20 8fc6bcff51318944179630522a095cc9dbf9f353"\n' >/usr/bin/containerd
    chmod 755 /usr/bin/containerd ;;
esac
DNF
  chmod 755 "$r/usr/bin/dnf"
  echo "$r"
}

# build ROOT ARGS...: build-mode into ROOT; stdout/stderr/rc in $WORK (IMDS off: anonymous S3).
build() {
  local root=$1
  shift
  AWS_EC2_METADATA_DISABLED=true "$AGENT" build-mode --root "$root" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
}

# --- help, variables -----------------------------------------------------------------------------
"$AGENT" build-mode --help >"$WORK/out" 2>"$WORK/err"; RC=$?
check "build-mode --help exits 0" expect_rc 0
check "build-mode --help lists the variables" contains "$WORK/out" "kubernetes_build_date"

P=$(new_image precedence)
cat >"$WORK/a.json" <<'JSON'
{"binary_bucket_name": "bucket-from-a", "pause_container_version": "3.9", "runc_version": "1.1.*"}
JSON
cat >"$WORK/b.json" <<'JSON'
{"pause_container_version": "3.8"}
JSON
build "$P" --dry-run --var-file "$WORK/a.json" --var-file "$WORK/b.json" "${VARS[@]}" runc_version=1.2.*
check "precedence: dry run exits 0" expect_rc 0
check "precedence: a var file beats the defaults" contains "$WORK/out" "binary_bucket_name       bucket-from-a                      $WORK/a.json"
check "precedence: a later var file beats an earlier one" contains "$WORK/out" "pause_container_version  3.8                                $WORK/b.json"
check "precedence: name=value beats every var file" contains "$WORK/out" "runc_version             1.2.*                              command line"
check "precedence: untouched variables keep the defaults" contains "$WORK/out" "containerd_version       1.7.*                              defaults"
check "precedence: the bucket shows in the fetch steps" contains "$WORK/out" "fetch s3://bucket-from-a/$PREFIX/kubelet"

build "$P" --dry-run "${VARS[@]}" kubernets_version=1.30.4
check "validation: an unknown variable exits 3" expect_rc 3
check "validation: ... naming it and suggesting the right one" contains "$WORK/err" "unknown build variable 'kubernets_version' (command line): did you mean 'kubernetes_version'?"
echo '{"kernel_version": "five"}' >"$WORK/bad.json"
build "$P" --dry-run --var-file "$WORK/bad.json" "${VARS[@]}"
check "validation: a bad value exits 3" expect_rc 3
check "validation: ... naming the variable, value and file" contains "$WORK/err" "kernel_version='five' ($WORK/bad.json)"
build "$P" --dry-run
check "validation: kubernetes_version is required" contains "$WORK/err" "kubernetes_version is not set"
build "$P" --dry-run --var-file "$WORK/absent.json" "${VARS[@]}"
check "validation: an unreadable var file is named" contains "$WORK/err" "--var-file $WORK/absent.json"

# --- dry run: the ordered plan, golden, and nothing touched ------------------------------------
before=$(snapshot "$P")
build "$P" --dry-run "${VARS[@]}" cache_container_images=true
sed "s#$P#/mnt/image#" "$WORK/out" >"$WORK/plan.txt"
check "dry run: the plan matches tests/golden/image/dry-run-dnf.txt" diff -u "$REPO/tests/golden/image/dry-run-dnf.txt" "$WORK/plan.txt"
check "dry run: the root is untouched" equals "$(snapshot "$P")" "$before"

# --- IAM policy ----------------------------------------------------------------------------------
build "$P" --print-iam-policy "${VARS[@]}" binary_bucket_name=my-bins binary_bucket_region=eu-west-1
check "iam policy: exits 0" expect_rc 0
check "iam policy: s3:GetObject on the bucket" json_eq "$WORK/out" 'd["Statement"][2]["Resource"]' '"arn:aws:s3:::my-bins/*"'
check "iam policy: ECR repositories of the region's account" json_eq "$WORK/out" 'd["Statement"][1]["Resource"]' '"arn:aws:ecr:eu-west-1:602401143452:repository/*"'

# --- a full build into a scratch root ----------------------------------------------------------
R=$(new_image full)
build "$R" "${VARS[@]}"
check "full build: exits 0" expect_rc 0
for f in usr/bin/kubelet usr/bin/kubectl usr/bin/aws-iam-authenticator etc/eks/image-credential-provider/ecr-credential-provider usr/bin/eks-node-agent; do
  check "full build: $f installed 0755 and verified" equals "$(stat -c %a "$R/$f")" 755
done
check "full build: kubelet is the bucket's bytes" cmp "$R/usr/bin/kubelet" "$BUCKET_DIR/amazon-eks/$PREFIX/kubelet"
check "full build: the agent is this binary" cmp "$R/usr/bin/eks-node-agent" "$AGENT"
check "full build: /etc/eks/eks-node-agent links to it" equals "$(readlink "$R/etc/eks/eks-node-agent")" /usr/bin/eks-node-agent
# The AL2 script paths: links to our shims (README "Install layout"), the package's layout.
for s in bootstrap.sh max-pods-calculator.sh; do
  check "full build: /etc/eks/$s links to the shim" equals "$(readlink "$R/etc/eks/$s")" "/usr/libexec/eks-node-agent/$s"
  check "full build: the $s shim is config/$s" cmp "$R/usr/libexec/eks-node-agent/$s" "$REPO/config/$s"
  check "full build: the $s shim is executable" equals "$(stat -c %a "$R/usr/libexec/eks-node-agent/$s")" 755
done
check "full build: kubelet-version.txt" equals "$(cat "$R/etc/eks/kubelet-version.txt")" "v$VERSION"
check "full build: containerd-version.txt from containerd --version in the image" equals "$(cat "$R/etc/eks/containerd-version.txt")" 1.7.20
check "full build: eni-max-pods.txt" cmp "$R/etc/eks/eni-max-pods.txt" "$REPO/data/eni-max-pods.txt"
check "full build: kubelet-config.json template" cmp "$R/etc/kubernetes/kubelet/kubelet-config.json" "$REPO/config/kubelet-config.json"
check "full build: kubelet.service" cmp "$R/etc/systemd/system/kubelet.service" "$REPO/config/kubelet.service"
check "full build: credential provider with public.ecr.aws (1.27+)" contains "$R/etc/eks/image-credential-provider/config.json" "public.ecr.aws"
check "full build: containerd config with the region's pause image" contains "$R/etc/containerd/config.toml" "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.10"
check "full build: sysctl settings" contains "$R/etc/sysctl.d/99-kubernetes-cri.conf" "net.ipv4.ip_forward = 1"
check "full build: module settings" contains "$R/etc/modules-load.d/containerd.conf" "br_netfilter"
check "full build: kubelet's directories" test -d "$R/etc/kubernetes/manifests" -a -d "$R/opt/cni/bin"
check "full build: the agent unit enabled offline" equals "$(readlink "$R/etc/systemd/system/multi-user.target.wants/eks-node-agent.service")" /etc/systemd/system/eks-node-agent.service
check "full build: kubelet.service enabled offline" equals "$(readlink "$R/etc/systemd/system/multi-user.target.wants/kubelet.service")" /etc/systemd/system/kubelet.service
check "full build: ... but held back until the CA exists" contains "$R/etc/systemd/system/kubelet.service" "ConditionPathExists=/etc/kubernetes/pki/ca.crt"
check "full build: containerd installed through dnf in the image" contains "$R/var/log/fake-dnf.log" "dnf install -y containerd-1.7.*"
check "full build: versions locked" contains "$R/var/log/fake-dnf.log" "dnf versionlock add kernel-5.10* runc-1.* containerd-1.7.*"
check "full build: build-info.json records the kubelet digest" contains "$R/etc/eks/build-info.json" "$(cut -c1-64 "$BUCKET_DIR/amazon-eks/$PREFIX/kubelet.sha256")"
check "full build: progress lines off a terminal" contains "$WORK/err" "kubelet: done"
check "full build: anonymous requests without credentials" contains "$WORK/err" "S3_ANONYMOUS"
check "full build: summary" contains "$WORK/err" "4 binaries fetched"
check "full build: no temp file left" equals "$(find "$R" -name '.*.tmp*' -o -name '*.eks-tmp*' | wc -l)" 0
systemd-analyze verify --root="$R" --man=no eks-node-agent.service >/dev/null 2>&1 || true

# --- idempotent re-run ---------------------------------------------------------------------------
before=$(snapshot "$R")
s3_control '{"action":"reset_stats"}'
build "$R" "${VARS[@]}"
check "re-run: exits 0" expect_rc 0
check "re-run: nothing downloaded again" contains "$WORK/err" "0 binaries fetched, 4 already installed and verified"
check "re-run: only the checksum files were fetched" equals "$(s3_stat 'sorted(k.rsplit("/",1)[1] for k in s["by_key"])')" '["aws-iam-authenticator.sha256", "ecr-credential-provider.sha256", "kubectl.sha256", "kubelet.sha256"]'
check "re-run: no file rewritten (inode, mtime, bytes)" equals "$(snapshot "$R" | grep -v fake-dnf.log)" "$(echo "$before" | grep -v fake-dnf.log)"

# --- a checksum mismatch or a missing object leaves the root as it was --------------------------
C=$(new_image checksum)
before=$(snapshot "$C")
s3_control "{\"action\":\"corrupt_checksum\",\"key\":\"$PREFIX/kubectl\"}"
build "$C" "${VARS[@]}"
check "checksum: a mismatch exits 3" expect_rc 3
check "checksum: the error names the object" contains "$WORK/err" "checksum mismatch for s3://amazon-eks/$PREFIX/kubectl"
check "checksum: the root is exactly as it was" equals "$(snapshot "$C")" "$before"
s3_control '{"action":"reset"}'
s3_control "{\"action\":\"missing\",\"key\":\"$PREFIX/ecr-credential-provider\"}"
build "$C" "${VARS[@]}"
check "missing object: exits 3" expect_rc 3
check "missing object: the error names it" contains "$WORK/err" "s3://amazon-eks/$PREFIX/ecr-credential-provider is missing"
check "missing object: the root is exactly as it was" equals "$(snapshot "$C")" "$before"
s3_control '{"action":"reset"}'

# --- a private bucket: SigV4 with environment or instance-profile credentials -------------------
s3_control '{"action":"private","bucket":"amazon-eks","private":true}'
V=$(new_image private)
build "$V" "${VARS[@]}"
check "private bucket: anonymous requests fail (exit 5)" expect_rc 5
check "private bucket: ... naming s3:GetObject" contains "$WORK/err" "s3:GetObject"
check "private bucket: ... and nothing was installed" test ! -e "$V/usr/bin/kubelet"
s3_control '{"action":"reset_stats"}'
AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01 AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000 \
  build "$V" "${VARS[@]}"
check "private bucket: environment credentials work" expect_rc 0
check "private bucket: every request signed and verified" equals "$(s3_stat '[s["signature_ok"] > 0, s["signature_failed"], s["anonymous"]]')" "[true, 0, 0]"
check "private bucket: the secret is never logged" lacks "$WORK/err" "static-secret-key"
V2=$(new_image profile)
give_role 1
s3_control '{"action":"reset_stats"}'
"$AGENT" build-mode --root "$V2" --imds-endpoint "$IMDS_URL" "${VARS[@]}" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "private bucket: instance-profile credentials from IMDS work" expect_rc 0
check "private bucket: ... signed with the role's key" equals "$(s3_stat '[k for k in s["access_keys"]]')" '["ASIAEMULATORROLE0001"]'
s3_control '{"action":"private","bucket":"amazon-eks","private":false}'

# --- refresh_instance_types: eni-max-pods.txt from EC2 DescribeInstanceTypes (issue 7) -----------
start_server AWS aws_emulator.py --page-size 3
T=$(new_image table)
AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01 \
  AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000 build "$T" "${VARS[@]}" refresh_instance_types=true
check "refresh table: exits 0" expect_rc 0
check "refresh table: every page of DescribeInstanceTypes" equals "$(get_stat "$AWS_URL/_stats" 's["by_operation"]["DescribeInstanceTypes"]')" 3
check "refresh table: signatures verified" equals "$(get_stat "$AWS_URL/_stats" 's["signature_failed"]')" 0
check "refresh table: the region's types, not the built-in table" equals "$(grep -vc '^#' "$T/etc/eks/eni-max-pods.txt")" 8
check "refresh table: eni-max-pods.txt format" contains "$T/etc/eks/eni-max-pods.txt" "m5.large 29"
check "refresh table: names its source" contains "$T/etc/eks/eni-max-pods.txt" "EC2 DescribeInstanceTypes in us-west-2"
# --- cache_container_images: pulls and tags through ctr in the image -------------------------------
I=$(new_image images)
mkdir -p "$I/usr/bin" "$I/var/log"
cat >"$I/usr/bin/ctr" <<'CTR'
#!/bin/sh
# A ctr that records what it was asked (the password replaced) and answers `ctr version`.
echo "$*" | sed 's/AWS:[^ ]*/AWS:PASSWORD/' >>/var/log/fake-ctr.log
exit 0
CTR
chmod 755 "$I/usr/bin/ctr"
AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01 \
  AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000 build "$I" "${VARS[@]}" cache_container_images=true
check "image cache: exits 0" expect_rc 0
check "image cache: containerd checked first" equals "$(head -1 "$I/var/log/fake-ctr.log")" "version"
check "image cache: the pause image pulled with the ECR token" contains "$I/var/log/fake-ctr.log" "images pull --user AWS:PASSWORD 602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.10"
check "image cache: kube-proxy minimal flavour (1.24+)" contains "$I/var/log/fake-ctr.log" "eks/kube-proxy:v1.30.0-minimal-eksbuild.3"
check "image cache: VPC CNI default and latest" contains "$I/var/log/fake-ctr.log" "amazon-k8s-cni:v1.18.3-eksbuild.2"
check "image cache: tagged for another region" contains "$I/var/log/fake-ctr.log" ".dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.10"
check "image cache: and the FIPS endpoint" contains "$I/var/log/fake-ctr.log" "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com/eks/pause:3.10"
post_control "$AWS_URL/_control" '{"action":"set_ecr_password","password":"ecr-registry-password-e2e"}'
AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01 \
  AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000 build "$I" "${VARS[@]}" cache_container_images=true
check "image cache: a re-run succeeds" expect_rc 0
check "image cache: the registry password is never logged" lacks "$WORK/err" "ecr-registry-password-e2e"
check "image cache: summary" contains "$WORK/err" "images pulled from 602401143452.dkr.ecr.us-west-2.amazonaws.com"
stop_server AWS

# --- a failing package step: its output shown, nothing installed --------------------------------
F=$(new_image pkgfail)
cat >"$F/usr/bin/dnf" <<'DNF'
#!/bin/sh
case "$*" in *containerd-*) echo "Error: Unable to find a match: $3" >&2; exit 1 ;; esac
exit 0
DNF
build "$F" "${VARS[@]}" containerd_version=9.9.*
check "package failure: exits non-zero" test "$RC" -ne 0
check "package failure: names the step" contains "$WORK/err" "package step 'containerd 9.9.*'"
check "package failure: the package manager's own message is shown" contains "$WORK/err" "Unable to find a match: containerd-9.9.*"
check "package failure: nothing installed" test ! -e "$F/usr/bin/kubelet" -a ! -e "$F/etc/eks/kubelet-version.txt"

# --- image cache needs containerd ----------------------------------------------------------------
N=$(new_image nocontainerd)
rm "$N/usr/bin/dnf"
build "$N" "${VARS[@]}" install_packages=false cache_container_images=true
check "image cache: no containerd and no packages exits 4" expect_rc 4
check "image cache: ... saying what to do" contains "$WORK/err" "cache_container_images=false"
before=$(snapshot "$N")
build "$N" --dry-run "${VARS[@]}"
check "no package manager: the dry run exits 8, as the real run" expect_rc 8
check "no package manager: the dry run prints the whole plan" bash -c "grep -q '^steps:' '$WORK/out' && grep -q 'enable eks-node-agent.service' '$WORK/out'"
check "no package manager: ...marking the package step and why" contains "$WORK/out" "package (none): containerd 1.7.*, runc 1.*, kernel 5.10 -- WOULD FAIL: install_packages=true but the image has no package manager"
check "no package manager: ...and the error on stderr" contains "$WORK/err" "install_packages=false"
check "no package manager: the dry run touches nothing" equals "$(snapshot "$N")" "$before"
build "$N" "${VARS[@]}"
check "no package manager: exits 8" expect_rc 8
check "no package manager: exits 8 naming install_packages=false" contains "$WORK/err" "install_packages=false"
check "no package manager: the real run touches nothing either" equals "$(snapshot "$N")" "$before"

# --- build, then boot: boot mode reads what build mode wrote -------------------------------------
MARK="$WORK/kubelet-ran"
KUBELET_MARK="$MARK" PATH="$R/usr/bin:$PATH" agent "$R" --service-manager offline my-cluster \
  --b64-cluster-ca "$CA_B64" --apiserver-endpoint "$ENDPOINT"
check "build then boot: boot exits 0" expect_rc 0
check "build then boot: kubelet --version never ran" test ! -e "$MARK"
check "build then boot: the kubelet version came from the build's fact file" json_eq "$R/run/eks-node-agent/status.json" 'd["values"]["kubeletVersion"]' "\"$VERSION\""
check "build then boot: kubelet-config.json configured from the template" json_eq "$R/etc/kubernetes/kubelet/kubelet-config.json" 'd["maxPods"]' 29
check "build then boot: kubeconfig names the cluster" contains "$R/var/lib/kubelet/kubeconfig" "my-cluster"
check "build then boot: containerd config v2 (containerd 1.7.20 from the fact file)" contains "$R/etc/containerd/config.toml" "version = 2"
check "build then boot: kubelet.service kept as built" cmp "$R/etc/systemd/system/kubelet.service" "$REPO/config/kubelet.service"
check "build then boot: kubelet enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/kubelet.service"

finish
