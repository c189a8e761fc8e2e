#!/bin/bash
# The packages end to end (README "Packages"; ctest `packaging`):
#   1. scripts/package.sh --prebuilt BUILD_DIR builds the .deb and the .rpm from the tree ctest
#      built (nothing is compiled again), and once more as version 0.0.0 to upgrade from;
#   2. lintian and rpmlint find nothing (beyond packaging/debian/*.lintian-overrides and
#      packaging/rpm/eks-node-agent.rpmlintrc, each entry commented);
#   3. both have the same layout, the conffiles, the dependencies the binary's dlopen needs;
#   4. the .deb is installed with dpkg into a throw-away container: systemd-nspawn booting a real
#      systemd (PID 1, tests/e2e/with-systemd.sh) on an overlay of the host's root (a tmpfs upper
#      layer in a private mount namespace, so nothing reaches the host), real maintainer scripts against the host's installed dependencies. It is enabled, runs
#      from /etc/eks/bootstrap.sh (--help, a --dry-run bootstrap against the IMDS emulator, the boot
#      unit's own command line), is upgraded over 0.0.0 keeping an edited conffile, and purged. The
#      image already has AL2's files: its /etc/eks/eni-max-pods.txt stays byte-identical throughout,
#      its bootstrap.sh is replaced by our shim, and user data's sed edits of the shim (eksctl's
#      max pods, Terraform's sourced profile.d file) take effect; max-pods-calculator.sh answers;
#   5. the .rpm likewise with rpm (--nodeps: Debian's rpm database knows none of the host's
#      packages): %systemd_post enables it through the preset, `rpm -U` keeps the edited
#      conffile (%config(noreplace)), `rpm -e` disables it.
# Usage: package_test.sh BUILD_DIR   (a configured and built CMake tree; needs root)
# shellcheck disable=SC2317,SC2119,SC2016  # helpers called through check; start_emulator takes no args here; sed edits of $2
set -u
BUILD=$(realpath -m "${1:?usage: package_test.sh BUILD_DIR}")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
T0=$(date +%s)
OLD=0.0.0
NEW=$(sed -nE 's/^project\(eks-node-agent VERSION ([0-9][0-9.]*).*/\1/p' "$REPO/CMakeLists.txt")
ARCH=$(dpkg --print-architecture)
RPMARCH=$(uname -m)

# --- in the container (this script again, run by `in_container`) ------------------------------------
if [ "${PKGTEST_PHASE:-}" != "" ]; then
  # stdin/stdout of each step go to $WORK/out and $WORK/err, as lib.sh's agent() does.
  run() { "$@" >"$WORK/out" 2>"$WORK/err"; RC=$?; return 0; }
  enabled() { [ "$(systemctl is-enabled eks-node-agent.service 2>/dev/null)" = enabled ]; }
  has_line() { grep -qxF -- "$2" "$1" || { echo "    ($1 lacks the line: $2)"; return 1; }; }
  IMDS_URL=$PKGTEST_IMDS
  BASE=(--b64-cluster-ca "$CA_B64" --apiserver-endpoint "$ENDPOINT" --imds-endpoint "$IMDS_URL")
  # The image as an AL2 AMI leaves it: the full max pods table (here with one type changed, to see
  # that it is the one read) and AWS's own bootstrap.sh, which the package replaces.
  mkdir -p /etc/eks
  sed 's/^m5\.large .*/m5.large 17/' "$REPO/data/eni-max-pods.txt" >/etc/eks/eni-max-pods.txt
  cp /etc/eks/eni-max-pods.txt /root/eni-max-pods.image
  printf '#!/bin/bash\necho "AL2 bootstrap.sh"\n' >/etc/eks/bootstrap.sh
  table_kept() { cmp /root/eni-max-pods.image /etc/eks/eni-max-pods.txt; }
  EXAMPLE=/etc/eks/eks-node-agent.d/nodeconfig.yaml.example

  check "$PKGTEST_PHASE: systemd is PID 1 and the system bus answers" \
    bash -c '[ "$(cat /proc/1/comm)" = systemd ] && busctl --system status >/dev/null'

  case $PKGTEST_PHASE in
  deb)
    run dpkg -i "$PKGTEST_DIR/old/eks-node-agent_${OLD}_$ARCH.deb"
    check "deb: dpkg -i $OLD" expect_rc 0
    check "deb: enabled by the maintainer script" enabled
    check "deb: the image's eni-max-pods.txt is left byte-identical by dpkg -i" table_kept
    echo "## edited" >>"$EXAMPLE"   # (still a comment once uncommented below)
    run dpkg -i "$PKGTEST_DIR/new/eks-node-agent_${NEW}_$ARCH.deb"
    check "deb: upgrade $OLD -> $NEW" expect_rc 0
    check "deb: $NEW installed" [ "$(dpkg-query -W -f='${Version} ${Status}' eks-node-agent)" = "$NEW install ok installed" ]
    check "deb: the edited conffile is kept" has_line "$EXAMPLE" "## edited"
    check "deb: the running systemd has loaded the unit" \
      [ "$(systemctl show -p LoadState --value eks-node-agent.service)" = loaded ]
    check "deb: the image's eni-max-pods.txt is byte-identical after the upgrade" table_kept
    check "deb: no .dpkg-dist/.dpkg-new left" [ -z "$(find /etc/eks -name '*.dpkg-*')" ]
    check "deb: still enabled after the upgrade" enabled
    ;;
  rpm)
    # Debian's systemd enables what no preset mentions; Fedora's default disables it, so mimic that
    # to see that the package's own preset is what enables the unit.
    mkdir -p /etc/systemd/system-preset
    echo "disable *" >/etc/systemd/system-preset/99-default.preset
    run rpm -i --nodeps "$PKGTEST_DIR/old/eks-node-agent-$OLD-1.$RPMARCH.rpm"
    check "rpm: rpm -i $OLD" expect_rc 0
    check "rpm: enabled by %systemd_post through 90-eks-node-agent.preset" enabled
    check "rpm: the image's eni-max-pods.txt is left byte-identical by rpm -i" table_kept
    echo "## edited" >>"$EXAMPLE"   # (still a comment once uncommented below)
    run rpm -U --nodeps "$PKGTEST_DIR/new/eks-node-agent-$NEW-1.$RPMARCH.rpm"
    check "rpm: rpm -U $OLD -> $NEW" expect_rc 0
    check "rpm: $NEW installed" [ "$(rpm -q eks-node-agent)" = "eks-node-agent-$NEW-1.$RPMARCH" ]
    check "rpm: the edited conffile is kept" has_line "$EXAMPLE" "## edited"
    check "rpm: the image's eni-max-pods.txt is byte-identical after the upgrade" table_kept
    check "rpm: no .rpmnew/.rpmsave left" [ -z "$(find /etc/eks -name '*.rpm*')" ]
    check "rpm: still enabled after the upgrade" enabled
    ;;
  esac

  # The installed binary, from the paths user data calls.
  run /etc/eks/eks-node-agent --help
  check "$PKGTEST_PHASE: /etc/eks/eks-node-agent --help" expect_rc 0
  check "$PKGTEST_PHASE: --help prints the usage" contains "$WORK/out" "usage: eks-node-agent"
  SHIM=/usr/libexec/eks-node-agent/bootstrap.sh
  check "$PKGTEST_PHASE: AL2's bootstrap.sh is replaced by a link to the shim" equals "$(readlink /etc/eks/bootstrap.sh)" "$SHIM"
  run /etc/eks/bootstrap.sh --version
  check "$PKGTEST_PHASE: /etc/eks/bootstrap.sh --version" contains "$WORK/out" "eks-node-agent "
  run /etc/eks/bootstrap.sh --help
  check "$PKGTEST_PHASE: the shim's usage names /etc/eks/bootstrap.sh" contains "$WORK/out" "usage: bootstrap.sh [options] <cluster-name>"
  # max-pods-calculator.sh with the calculator's CLI; its exit status is the agent's.
  run /etc/eks/max-pods-calculator.sh --instance-type m5.large --cni-version 1.18.0
  check "$PKGTEST_PHASE: max-pods-calculator.sh: m5.large, CNI 1.18.0 -> 29" equals "$(cat "$WORK/out")" 29
  run /etc/eks/max-pods-calculator.sh --instance-type m5.8xlarge --cni-version 1.11.2 --cni-custom-networking-enabled
  check "$PKGTEST_PHASE: max-pods-calculator.sh: m5.8xlarge, custom networking -> 205" equals "$(cat "$WORK/out")" 205
  run /etc/eks/max-pods-calculator.sh --cni-version 1.18.0
  check "$PKGTEST_PHASE: max-pods-calculator.sh: no instance type fails" [ "$RC" -ne 0 ]
  # Karpenter's --max-pods=110: kubeReserved stays the ENI-based m5.large value (29 pods: 574Mi),
  # as Karpenter models it; the opt-in follows the effective max pods (110: 1465Mi).
  KCFG=etc/kubernetes/kubelet/kubelet-config.json
  reserved() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["kubeReserved"]["memory"])' "$1"; }
  R=$(new_root "karpenter-$PKGTEST_PHASE" 2)
  run /etc/eks/bootstrap.sh my-cluster "${BASE[@]}" --kubelet-extra-args '--max-pods=110' --root "$R"
  check "$PKGTEST_PHASE: --max-pods=110: kubeReserved memory is the ENI-based 574Mi" equals "$(reserved "$R/$KCFG")" 574Mi
  R=$(new_root "karpenter-opt-$PKGTEST_PHASE" 2)
  run /etc/eks/bootstrap.sh my-cluster "${BASE[@]}" --kubelet-extra-args '--max-pods=110' --kube-reserved-max-pods effective --root "$R"
  check "$PKGTEST_PHASE: --kube-reserved-max-pods effective: 1465Mi for 110 pods" equals "$(reserved "$R/$KCFG")" 1465Mi
  # eksctl's maxPodsPerNode edit (real-clients.md fact 2), then a real bootstrap into a scratch root.
  EXTRA=etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf
  sed -i 's/KUBELET_EXTRA_ARGS=$2/KUBELET_EXTRA_ARGS="$2 --max-pods=23"/' /etc/eks/bootstrap.sh
  check "$PKGTEST_PHASE: eksctl's sed leaves an edited executable copy" sh -c \
    '[ ! -L /etc/eks/bootstrap.sh ] && [ -x /etc/eks/bootstrap.sh ] && grep -qF -- "--max-pods=23" /etc/eks/bootstrap.sh'
  R=$(new_root "eksctl-$PKGTEST_PHASE" 2)
  run /etc/eks/bootstrap.sh my-cluster "${BASE[@]}" --kubelet-extra-args '--node-labels=a=b' --root "$R"
  check "$PKGTEST_PHASE: eksctl-edited bootstrap.sh exits 0" expect_rc 0
  check "$PKGTEST_PHASE: eksctl-edited bootstrap.sh: --max-pods=23 reaches kubelet's flags" \
    contains "$R/$EXTRA" "--node-labels=a=b --max-pods=23"
  check "$PKGTEST_PHASE: eksctl-edited bootstrap.sh: the summary says max-pods=23" contains "$WORK/err" "max-pods=23"
  # terraform-aws-eks's workaround: a profile.d file sourced after `set -o errexit` (its variables
  # exported or not), and the extra args it holds appended to the flag's.
  ln -sfn "$SHIM" /etc/eks/bootstrap.sh
  printf 'export USE_MAX_PODS=false\nKUBELET_EXTRA_ARGS="--register-with-taints=t=v:NoSchedule"\n' >/etc/profile.d/bootstrap.sh
  sed -i '/^set -o errexit/a\\nsource /etc/profile.d/bootstrap.sh' /etc/eks/bootstrap.sh
  sed -i 's/KUBELET_EXTRA_ARGS=$2/KUBELET_EXTRA_ARGS="$2 $KUBELET_EXTRA_ARGS"/' /etc/eks/bootstrap.sh
  R=$(new_root "terraform-$PKGTEST_PHASE" 2)
  run /etc/eks/bootstrap.sh my-cluster "${BASE[@]}" --kubelet-extra-args '--node-labels=b=c' --root "$R"
  check "$PKGTEST_PHASE: Terraform-edited bootstrap.sh exits 0" expect_rc 0
  check "$PKGTEST_PHASE: Terraform-edited: the sourced extra args are appended" \
    contains "$R/$EXTRA" "--node-labels=b=c --register-with-taints=t=v:NoSchedule"
  check "$PKGTEST_PHASE: Terraform-edited: the sourced USE_MAX_PODS=false leaves maxPods out" \
    json_eq "$R/etc/kubernetes/kubelet/kubelet-config.json" '"maxPods" in d' 'false'
  R=$(new_root "terraform-noflag-$PKGTEST_PHASE" 2)
  run /etc/eks/bootstrap.sh my-cluster "${BASE[@]}" --root "$R"
  check "$PKGTEST_PHASE: Terraform-edited, no flag: the sourced (unexported) KUBELET_EXTRA_ARGS is used" \
    contains "$R/$EXTRA" "--register-with-taints=t=v:NoSchedule"
  rm /etc/profile.d/bootstrap.sh
  ln -sfn "$SHIM" /etc/eks/bootstrap.sh
  R=$(new_root "dry-$PKGTEST_PHASE" 2)
  snapshot "$R" >"$WORK/before"
  run /etc/eks/bootstrap.sh my-cluster "${BASE[@]}" --dry-run --root "$R"
  check "$PKGTEST_PHASE: bootstrap.sh --dry-run into a scratch root" expect_rc 0
  check "$PKGTEST_PHASE: the dry run shows the kubeconfig" contains "$WORK/out" "server: \"$ENDPOINT\""
  check "$PKGTEST_PHASE: the dry run writes nothing" cmp -s "$WORK/before" <(snapshot "$R")
  # This node itself (the container's /, offline: no systemd runs here): max pods from the kept
  # /etc/eks/eni-max-pods.txt, so the conffile is where the binary looks.
  echo "v1.30.4-eks-1234567" >/etc/eks/kubelet-version.txt
  run /etc/eks/eks-node-agent --cluster my-cluster "${BASE[@]}" --dry-run --root / --service-manager offline
  check "$PKGTEST_PHASE: dry run of this node exits 0" expect_rc 0
  check "$PKGTEST_PHASE: max pods from the image's /etc/eks/eni-max-pods.txt" contains "$WORK/out" '"maxPods": 17'
  # The boot unit's command line, as installed, with the installed drop-in directory: its example
  # file is not a NodeConfig source.
  for UNIT in /lib/systemd/system/eks-node-agent.service /usr/lib/systemd/system/eks-node-agent.service; do
    [ -f "$UNIT" ] && break
  done
  read -r -a EXEC <<<"$(sed -n 's/^ExecStart=//p' "$UNIT")"
  check "$PKGTEST_PHASE: the unit runs /usr/bin/eks-node-agent" [ "${EXEC[0]:-}" = /usr/bin/eks-node-agent ]
  check "$PKGTEST_PHASE: the drop-in example is installed" test -f /etc/eks/eks-node-agent.d/nodeconfig.yaml.example
  # AL2023: the binary under nodeadm's name, and nodeadm's two units installed but left to the image.
  check "$PKGTEST_PHASE: /usr/bin/nodeadm is the agent" bash -c \
    '[ "$(readlink -f /usr/bin/nodeadm)" = "$(readlink -f /usr/bin/eks-node-agent)" ] && [ -L /usr/bin/nodeadm ]'
  check "$PKGTEST_PHASE: nodeadm --help answers as nodeadm" bash -c '/usr/bin/nodeadm --help 2>&1 | grep -q "usage: nodeadm"'
  for u in nodeadm-config.service nodeadm-run.service; do
    check "$PKGTEST_PHASE: $u installed, not enabled" bash -c \
      '[ -f "$(dirname "$2")/$1" ] && [ "$(systemctl is-enabled "$1" 2>/dev/null)" = disabled ]' _ "$u" "$UNIT"
  done
  run "${EXEC[@]}" --dry-run --root / --service-manager offline --imds-endpoint "$IMDS_URL"
  check "$PKGTEST_PHASE: boot unit command, no user data: exit 0" expect_rc 0
  check "$PKGTEST_PHASE: boot unit command: nothing to do" contains "$WORK/out" "no NodeConfig in user data; nothing to do"
  check "$PKGTEST_PHASE: boot unit command: the example is not read" contains "$WORK/err" "no *.yaml, *.yml or *.json files"
  # The example, uncommented as it says, is a valid NodeConfig.
  sed -n 's/^# \{0,1\}//; /^---$/,$p' /etc/eks/eks-node-agent.d/nodeconfig.yaml.example >/etc/eks/eks-node-agent.d/10-cluster.yaml
  run eks-node-agent config check --imds-endpoint "$IMDS_URL"
  check "$PKGTEST_PHASE: the uncommented example passes config check" contains "$WORK/out" "is valid"
  rm /etc/eks/eks-node-agent.d/10-cluster.yaml
  # The completion and the man page.
  complete_words() {
    bash -c 'source /usr/share/bash-completion/completions/eks-node-agent
             COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _eks_node_agent; echo "${COMPREPLY[*]}"' _ "$@"
  }
  check "$PKGTEST_PHASE: completion: subcommands" [ "$(complete_words eks-node-agent ma)" = max-pods ]
  check "$PKGTEST_PHASE: completion: options" [ "$(complete_words eks-node-agent --ip-fam)" = --ip-family ]
  check "$PKGTEST_PHASE: completion: option values" [ "$(complete_words eks-node-agent --ip-family '')" = "ipv4 ipv6" ]
  check "$PKGTEST_PHASE: completion: a subcommand's options" [ "$(complete_words eks-node-agent max-pods --instance-type-f)" = --instance-type-from-imds ]
  check "$PKGTEST_PHASE: completion: config actions" [ "$(complete_words eks-node-agent config '')" = "check dump" ]
  MAN=$(ls /usr/share/man/man8/eks-node-agent.8*)
  check "$PKGTEST_PHASE: eks-node-agent(8) installed" test -s "$MAN"
  check "$PKGTEST_PHASE: the man page documents --hostname-source" sh -c "zcat -f '$MAN' | grep -q 'hostname\\\\-source'"

  case $PKGTEST_PHASE in
  deb)
    run dpkg -P eks-node-agent
    check "deb: purge" expect_rc 0
    check "deb: purge removes the conffiles" [ ! -e "$EXAMPLE" ]
    check "deb: purge leaves the image's eni-max-pods.txt byte-identical" table_kept
    check "deb: purge removes the /etc/eks links" sh -c '[ ! -L /etc/eks/bootstrap.sh ] && [ ! -L /etc/eks/max-pods-calculator.sh ]'
    check "deb: purge removes the enablement" [ ! -L /etc/systemd/system/multi-user.target.wants/eks-node-agent.service ]
    ;;
  rpm)
    run rpm -e --nodeps eks-node-agent
    check "rpm: erase" expect_rc 0
    check "rpm: the edited conffile is saved as .rpmsave" test -f "$EXAMPLE.rpmsave"
    check "rpm: erase leaves the image's eni-max-pods.txt byte-identical" table_kept
    check "rpm: erase removes the /etc/eks links" sh -c '[ ! -L /etc/eks/bootstrap.sh ] && [ ! -L /etc/eks/max-pods-calculator.sh ]'
    check "rpm: %systemd_preun disabled the unit" [ ! -L /etc/systemd/system/multi-user.target.wants/eks-node-agent.service ]
    ;;
  esac
  echo "$PASSED passed, $FAILED failed" >"$PKGTEST_DIR/$PKGTEST_PHASE.result"
  exit 0
fi

# --- on the host ---------------------------------------------------------------------------------------
# in_container PHASE: this script in a container whose root is an overlay of the host's (tmpfs upper
# layer, private mount namespace: nothing it does reaches the host); $WORK and the repository are
# bound in. Its ok/not ok lines join ours.
in_container() {
  local phase=$1 layer="$WORK/ct-$1"
  rm -f "$WORK/$phase.result"
  # shellcheck disable=SC2016  # expanded by the inner shell
  unshare --mount --propagation private bash -c '
    set -e
    layer=$1 work=$2 repo=$3 phase=$4 imds=$5
    shift 5
    mkdir -p "$layer/rw" "$layer/root"
    mount -t tmpfs -o mode=0755 tmpfs "$layer/rw"
    mkdir -p "$layer/rw/upper" "$layer/rw/work"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$layer/rw/upper,workdir=$layer/rw/work" "$layer/root"
    # A real systemd as PID 1 (tests/e2e/with-systemd.sh) booting the overlay, on the host network
    # (the IMDS emulator is on its loopback); the phase runs in it against the real system bus.
    export PKGTEST_PHASE="$phase" PKGTEST_DIR="$work" PKGTEST_IMDS="$imds"
    WITH_SYSTEMD_ROOT="$layer/root" WITH_SYSTEMD_HOST_NETWORK=1 WITH_SYSTEMD_BIND="$work" \
      exec bash "$repo/tests/e2e/with-systemd.sh" /bin/bash "$@"' _ "$layer" "$WORK" "$REPO" "$phase" "$IMDS_URL" "$REPO/tests/packaging/package_test.sh" "$BUILD" \
    2> >(grep -v 'Attempted to remove disk file system' >&2) | tee "$WORK/$phase.log"
  if [ ! -s "$WORK/$phase.result" ]; then
    not_ok "$phase: the container run finished" "no result (see the lines above)"
    return
  fi
  PASSED=$((PASSED + $(grep -c '^ok - ' "$WORK/$phase.log")))
  FAILED=$((FAILED + $(grep -c '^not ok - ' "$WORK/$phase.log")))
}

missing=()
for t in dpkg-buildpackage dh rpmbuild lintian rpmlint systemd-nspawn unshare help2man; do
  command -v "$t" >/dev/null || missing+=("$t")
done
if ((${#missing[@]})) || [ "$(id -u)" != 0 ]; then
  not_ok "prerequisites" "needs root and ${missing[*]:-} (scripts/install-deps.sh)"
  finish; exit
fi

# 1. Build: the ctest tree as it is, and as an older version to upgrade from.
export DEB_BUILD_OPTIONS=noautodbgsym   # the -dbgsym package is not tested: skip compressing it
if bash "$REPO/scripts/package.sh" --prebuilt "$BUILD" --out "$WORK/new" >"$WORK/build-new.log" 2>&1; then
  ok "package.sh --prebuilt builds the .deb and the .rpm ($NEW)"
else
  not_ok "package.sh --prebuilt builds the .deb and the .rpm" "$(tail -20 "$WORK/build-new.log")"
fi
if bash "$REPO/scripts/package.sh" --prebuilt "$BUILD" --out "$WORK/old" --version "$OLD" >"$WORK/build-old.log" 2>&1; then
  ok "package.sh --version $OLD builds the packages to upgrade from"
else
  not_ok "package.sh --version $OLD" "$(tail -20 "$WORK/build-old.log")"
fi
DEB=$WORK/new/eks-node-agent_${NEW}_$ARCH.deb
RPM=$WORK/new/eks-node-agent-$NEW-1.$RPMARCH.rpm
check "the .deb is named for CMakeLists.txt's version" test -f "$DEB"
check "the .rpm is named for CMakeLists.txt's version" test -f "$RPM"
if [ ! -f "$DEB" ] || [ ! -f "$RPM" ]; then finish; exit; fi

# 2. The distributions' linters.
lintian --pedantic --fail-on error,warning "$DEB" >"$WORK/lintian.out" 2>&1
RC=$?
sed 's/^/    lintian: /' "$WORK/lintian.out" | grep -v 'root privileges'
check "lintian: no errors or warnings" expect_rc 0
rpmlint -r "$REPO/packaging/rpm/eks-node-agent.rpmlintrc" "$RPM" >"$WORK/rpmlint.out" 2>&1
RC=$?
grep -E '^[^ ]+: [EW]: ' "$WORK/rpmlint.out" | sed 's/^/    rpmlint: /'
check "rpmlint: no errors or warnings" sh -c "[ $RC = 0 ] && grep -q ' 0 errors, 0 warnings' '$WORK/rpmlint.out'"

# 3. Contents.
dpkg-deb -c "$DEB" | awk '{ p = substr($6, 2); if ($1 ~ /^l/) p = p " -> " $8; if ($1 !~ /^d/) print p }' | sort >"$WORK/deb.files"
rpm -qp --qf '[%{FILENAMES}\t%{FILELINKTOS}\t%{FILEMODES:perms}\n]' "$RPM" 2>/dev/null |
  awk -F'\t' '$3 !~ /^d/ { print ($2 == "" ? $1 : $1 " -> " $2) }' | sort >"$WORK/rpm.files"
for f in "/usr/bin/eks-node-agent" "/etc/eks/eks-node-agent -> /usr/bin/eks-node-agent" \
         "/etc/eks/bootstrap.sh -> /usr/libexec/eks-node-agent/bootstrap.sh" \
         "/etc/eks/max-pods-calculator.sh -> /usr/libexec/eks-node-agent/max-pods-calculator.sh" \
         /usr/libexec/eks-node-agent/bootstrap.sh /usr/libexec/eks-node-agent/max-pods-calculator.sh \
         /etc/eks/eks-node-agent.d/nodeconfig.yaml.example /usr/share/eks-node-agent/eni-max-pods.txt.example \
         /usr/share/eks-node-agent/eni-max-pods.txt /usr/share/eks-node-agent/instance-networking.jsonl \
         /usr/share/bash-completion/completions/eks-node-agent; do
  check "deb has $f" grep -qxF -- "$f" "$WORK/deb.files"
done
UNITDIR=$(sed -n 's/^AGENT_SYSTEMD_UNIT_DIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
PRESETDIR=$(sed -n 's/^AGENT_SYSTEMD_PRESET_DIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
check "deb has no /etc/eks/eni-max-pods.txt (an image's own is kept)" sh -c "! grep -qxF /etc/eks/eni-max-pods.txt '$WORK/deb.files'"
check "rpm has no /etc/eks/eni-max-pods.txt" sh -c "! grep -qxF /etc/eks/eni-max-pods.txt '$WORK/rpm.files'"
check "the shims are executable in both" sh -c "dpkg-deb -c '$DEB' | grep -E '^-rwxr-xr-x .*/usr/libexec/eks-node-agent/bootstrap.sh\$' >/dev/null &&
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' '$RPM' 2>/dev/null | grep -qx -- '-rwxr-xr-x /usr/libexec/eks-node-agent/bootstrap.sh'"
check "rpm License: is Apache-2.0" [ "$(rpm -qp --qf '%{LICENSE}' "$RPM" 2>/dev/null)" = Apache-2.0 ]
check "deb copyright is Apache-2.0" sh -c "dpkg-deb --fsys-tarfile '$DEB' | tar -xOf - ./usr/share/doc/eks-node-agent/copyright | grep -qx 'License: Apache-2.0'"
check "deb has the unit in $UNITDIR" grep -qxF "$UNITDIR/eks-node-agent.service" "$WORK/deb.files"
check "deb has the preset in $PRESETDIR" grep -qxF "$PRESETDIR/90-eks-node-agent.preset" "$WORK/deb.files"
check "deb has eks-node-agent(8)" grep -qxF /usr/share/man/man8/eks-node-agent.8.gz "$WORK/deb.files"
check "rpm has the unit in /usr/lib/systemd/system" grep -qxF /usr/lib/systemd/system/eks-node-agent.service "$WORK/rpm.files"
check "rpm has the preset in /usr/lib/systemd/system-preset" grep -qxF /usr/lib/systemd/system-preset/90-eks-node-agent.preset "$WORK/rpm.files"
# Same files in both, up to each distribution's unit directory, doc/lintian files and build-id links.
norm() {
  sed -E 's|^/lib/systemd/|/usr/lib/systemd/|' "$1" | grep -vE '^/usr/share/(doc|licenses|lintian)/|^/usr/lib/\.build-id/' | sort
}
check "the .deb and the .rpm install the same files" diff <(norm "$WORK/deb.files") <(norm "$WORK/rpm.files")
check "deb conffiles" diff <(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles | sort) \
  <(printf '%s\n' /etc/eks/eks-node-agent.d/nodeconfig.yaml.example)
check "rpm %config(noreplace) files" diff <(rpm -qpc "$RPM" 2>/dev/null | sort) \
  <(printf '%s\n' /etc/eks/eks-node-agent.d/nodeconfig.yaml.example)
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
check "deb depends on libcurl4 (dlopen'ed)" grep -q 'libcurl4 (>= 7.75.0)' <<<"$DEPENDS"
check "deb depends on libsystemd0 (shlibs)" grep -q 'libsystemd0' <<<"$DEPENDS"
rpm -qpR "$RPM" >"$WORK/rpm.requires" 2>/dev/null
check "rpm requires libcurl (dlopen'ed)" grep -qE '^libcurl\(.*\) >= 7.75.0' "$WORK/rpm.requires"
check "rpm requires libsystemd.so.0 (automatic)" grep -q '^libsystemd.so.0' "$WORK/rpm.requires"
check "rpm %post applies the preset" sh -c "rpm -qp --scripts '$RPM' 2>/dev/null | grep -q 'preset eks-node-agent.service'"
check "deb postinst enables the unit and does not start it" sh -c \
  "dpkg-deb --ctrl-tarfile '$DEB' | tar -xOf - ./postinst | grep -q 'deb-systemd-helper enable' &&
   ! dpkg-deb --ctrl-tarfile '$DEB' | tar -xOf - ./postinst | grep -q 'deb-systemd-invoke'"
# The man page and the completion come from the binary's --help: every option it prints is in both.
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./usr/share/man/man8/eks-node-agent.8.gz | zcat | sed 's/\\-/-/g' >"$WORK/man.txt"
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./usr/share/bash-completion/completions/eks-node-agent >"$WORK/completion.bash"
"$BUILD/eks-node-agent" --help | sed -nE 's/^  (--[a-z0-9-]+).*/\1/p' >"$WORK/options"
check "the --help lists options" test "$(wc -l <"$WORK/options")" -gt 20
# has_all FILE: every option in $WORK/options occurs in FILE as a whole word.
has_all() {
  local o miss=""
  while read -r o; do grep -qE -- "(^|[^a-z-])$o([^a-z-]|\$)" "$1" || miss+=" $o"; done <"$WORK/options"
  [ -z "$miss" ] || { echo "    ($1 lacks:$miss)"; return 1; }
}
check "every --help option is in eks-node-agent(8)" has_all "$WORK/man.txt"
check "every --help option is completed" has_all "$WORK/completion.bash"

# 4./5. Install, run, upgrade and remove, in throw-away containers.
start_emulator   # on the host: the containers share its network
in_container deb
in_container rpm

echo "# packaging test took $(( $(date +%s) - T0 )) s"
finish
