#!/bin/bash
# Builds the .deb and the .rpm (README "Packages") into dist/.
#
#   scripts/package.sh [--prebuilt BUILD_DIR] [--out DIR] [--only deb|rpm] [--from-source] [--version V]
#
#   --prebuilt DIR  package this already-built CMake tree (`cmake --install`) instead of building;
#                   the ctest `packaging` test passes its own build dir. Default: configure and
#                   build once into build-package/ and package that, for both formats.
#   --out DIR       where the packages go (default dist/).
#   --only FMT      build only the .deb or only the .rpm.
#   --from-source   let each packaging system compile: dh's cmake build for the .deb, %cmake from a
#                   source tarball for the .rpm (needs the Fedora/Amazon Linux rpm macros).
#   --version V     package version other than CMakeLists.txt's (tests build an older one to
#                   upgrade from); the binary's --version still says what it was built as.
#
# The version comes from one place, `project(eks-node-agent VERSION X.Y.Z)` in CMakeLists.txt.
# Needs: dpkg-dev, debhelper, cmake (deb); rpm's rpmbuild (rpm). scripts/install-deps.sh installs them.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/dist
PREBUILT=""
ONLY=""
FROM_SOURCE=0
VERSION=""
while [ $# -gt 0 ]; do
  case $1 in
    --prebuilt) PREBUILT=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --only) ONLY=$2; shift 2;;
    --from-source) FROM_SOURCE=1; shift;;
    --version) VERSION=$2; shift 2;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;;
    *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 2;;
  esac
done
case $ONLY in ""|deb|rpm) ;; *) echo "package.sh: --only deb or --only rpm" >&2; exit 2;; esac
[ "$FROM_SOURCE" = 0 ] || [ -z "$PREBUILT" ] || { echo "package.sh: --prebuilt or --from-source, not both" >&2; exit 2; }
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
log() { echo "package.sh: $*" >&2; }

[ -n "$VERSION" ] || VERSION=$(sed -nE 's/^project\(eks-node-agent VERSION ([0-9][0-9.]*).*/\1/p' "$REPO/CMakeLists.txt")
[ -n "$VERSION" ] || { log "no version in CMakeLists.txt's project()"; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/eks-node-agent-pkg.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
# One date for both changelogs: SOURCE_DATE_EPOCH, else the last commit's, else now.
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}

if [ "$FROM_SOURCE" = 0 ]; then
  if [ -z "$PREBUILT" ]; then
    PREBUILT=$REPO/build-package
    log "building once into $PREBUILT"
    cmake -S "$REPO" -B "$PREBUILT" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAGENT_BUILD_TESTS=OFF >/dev/null
    cmake --build "$PREBUILT" --parallel "$(nproc)"
  fi
  PREBUILT=$(cd "$PREBUILT" && pwd)
  for f in eks-node-agent doc/eks-node-agent.8 doc/eks-node-agent.bash; do
    [ -e "$PREBUILT/$f" ] || { log "$PREBUILT/$f is missing: build the tree first (help2man and python3 needed for doc/)"; exit 1; }
  done
fi

# The source tree as git sees it (tracked and new files, nothing ignored), else all but builds.
copy_source() {
  local dest=$1 f
  mkdir -p "$dest"
  if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # (a tracked file deleted in the work tree is left out)
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) |
      tar -xf - -C "$dest"
  else
    tar -C "$REPO" --exclude='./build*' --exclude=./dist --exclude=./.git -cf - . | tar -xf - -C "$dest"
  fi
}

build_deb() {
  local src=$STAGE/deb/eks-node-agent-$VERSION maint
  copy_source "$src"
  rm -rf "$src/debian"
  cp -r "$REPO/packaging/debian" "$src/debian"
  maint=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
  {
    echo "eks-node-agent ($VERSION) unstable; urgency=medium"
    echo
    echo "  * eks-node-agent $VERSION; the changes are in the project's git history."
    echo
    echo " -- $maint  $(LC_ALL=C date -R -u -d "@$EPOCH")"
  } >"$src/debian/changelog"
  local args=(-b -us -uc)
  # A from-source build compiles everything: reuse objects across runs when ccache is there (CMake
  # reads these variables when dh_auto_configure runs it).
  if [ -z "$PREBUILT" ] && command -v ccache >/dev/null; then
    export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
  fi
  if [ -n "$PREBUILT" ]; then
    export EKS_NODE_AGENT_PREBUILT=$PREBUILT
    args+=(-d)   # nothing is compiled: the compilers and -dev packages are not needed
  fi
  log "dpkg-buildpackage ${args[*]} ($([ -n "$PREBUILT" ] && echo "prebuilt $PREBUILT" || echo "from source"))"
  (cd "$src" && dpkg-buildpackage "${args[@]}" >"$STAGE/deb.log" 2>&1) || { tail -40 "$STAGE/deb.log" >&2; log "dpkg-buildpackage failed"; exit 1; }
  unset EKS_NODE_AGENT_PREBUILT
  local f
  for f in "$STAGE"/deb/*.deb; do cp "$f" "$OUT"/ && echo "  dist: ${f##*/}" >&2; done
}

build_rpm() {
  local top=$STAGE/rpm spec=$REPO/packaging/rpm/eks-node-agent.spec
  mkdir -p "$top"/{SOURCES,BUILD,RPMS,SRPMS,SPECS}
  local defs=(--define "_topdir $top" --define "pkg_version $VERSION"
              --define "_source_date_epoch_from_changelog 0" --define "build_mtime_policy clamp_to_source_date_epoch")
  local mode=-bb
  if [ -n "$PREBUILT" ]; then
    defs+=(--define "prebuilt_dir $PREBUILT")
  else
    copy_source "$STAGE/src/eks-node-agent-$VERSION"
    tar -C "$STAGE/src" -czf "$top/SOURCES/eks-node-agent-$VERSION.tar.gz" "eks-node-agent-$VERSION"
    mode=-ba
  fi
  log "rpmbuild $mode ($([ -n "$PREBUILT" ] && echo "prebuilt $PREBUILT" || echo "from source"))"
  SOURCE_DATE_EPOCH=$EPOCH rpmbuild "$mode" "${defs[@]}" "$spec" >"$STAGE/rpm.log" 2>&1 ||
    { tail -40 "$STAGE/rpm.log" >&2; log "rpmbuild failed"; exit 1; }
  local f
  for f in "$top"/RPMS/*/*.rpm "$top"/SRPMS/*.rpm; do
    [ -f "$f" ] && cp "$f" "$OUT"/ && echo "  dist: ${f##*/}" >&2
  done
  return 0
}

if want deb; then build_deb; fi
if want rpm; then build_rpm; fi
log "packages in $OUT"
