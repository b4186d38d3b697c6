#!/usr/bin/env bash
# Builds Berth's container image offline with buildah (Containerfile at the repository root).
#   scripts/image/build.sh [TAG]        default TAG: localhost/berth:latest
# No image is pulled. Two bases are made once with mmdebstrap from this machine's Debian mirror
# (its apt sources) and reused (BERTH_REBUILD_BASE=1 makes them again):
#   localhost/berth-base:bookworm        the runtime: libc6, libstdc++6, libgcc-s1, tzdata,
#                                        busybox-static (extract variant, about 20 MB)
#   localhost/berth-build-base:bookworm  the build stage: minbase with build-essential and python3
# The Node.js runtime and npm are this machine's (Node.js 20 or newer, with its headers). The app is
# installed (`npm ci` from the npm registry npm uses here) and built (`npm run build`) inside the
# image build, from the checkout's files (git ls-files: tracked and untracked, not ignored).
# As root, installs buildah, podman, runc and mmdebstrap with apt-get when missing (podman runs
# containers with runc here: crun refuses this sandbox's hybrid cgroups).
# Env: BERTH_IMAGE_REV (build this commit, e.g. HEAD, instead of the working tree),
#      BERTH_IMAGE_WORK (scratch dir, default a new /tmp/berth-image.*; removed unless kept),
#      BERTH_KEEP_WORK=1, BERTH_BASE_IMAGE, BERTH_BUILD_BASE_IMAGE, BERTH_REBUILD_BASE=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:-localhost/berth:latest}
base=${BERTH_BASE_IMAGE:-localhost/berth-base:bookworm}
build_base=${BERTH_BUILD_BASE_IMAGE:-localhost/berth-build-base:bookworm}
export BUILDAH_ISOLATION=chroot
say() { echo "image: [$SECONDS s] $*"; }
fail() { echo "image: $*" >&2; exit 1; }

# Tools.
missing=()
for pair in buildah:buildah podman:podman mmdebstrap:mmdebstrap runc:runc; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} with apt-get…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" uidmap >/dev/null ||
      fail "apt-get install ${missing[*]} failed"
  else
    fail "missing ${missing[*]}. Install them (Debian: sudo apt-get install -y ${missing[*]}) and run again."
  fi
fi
node=$(command -v node) || fail "no node on PATH (Node.js 20 or newer is copied into the image)"
node=$(readlink -f "$node")
major=$("$node" -p 'process.versions.node.split(".")[0]')
((major >= 20)) || fail "node $("$node" --version) is too old: the image needs Node.js 20 or newer"
ldd "$node" 2>/dev/null | grep -Eq 'libnode|not found' && fail "$node links a shared libnode; the image needs a self-contained node binary"

work=${BERTH_IMAGE_WORK:-$(mktemp -d /tmp/berth-image.XXXXXX)}
mkdir -p "$work"
[[ ${BERTH_KEEP_WORK:-} == 1 ]] || trap 'rm -rf "$work"' EXIT

# 1. The bases, once.
sources=()
for file in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
  [[ -s $file ]] && grep -Eq '^(deb |URIs:)' "$file" && { sources=("$file"); break; }
done
# make_base IMAGE VARIANT PACKAGES: a Debian bookworm root imported as IMAGE.
make_base() {
  local image=$1 variant=$2 packages=$3 rootfs="$work/rootfs"
  say "making $image with mmdebstrap ($variant: $packages)…"
  rm -rf "$rootfs"
  mmdebstrap --quiet --mode=root --variant="$variant" --format=directory --include="$packages" \
    bookworm "$rootfs" "${sources[@]}" || fail "mmdebstrap failed (is this machine's Debian mirror reachable?)"
  if [[ $variant == extract ]]; then
    # The extract variant unpacks just these packages (no dpkg, no apt, no maintainer scripts)
    # and runs no hooks: the few settings a runtime needs are made here.
    for applet in $("$rootfs/bin/busybox" --list); do
      [[ -e $rootfs/bin/$applet || -L $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    mkdir -p "$rootfs/tmp" "$rootfs/root" "$rootfs/usr/local/bin" "$rootfs/proc" "$rootfs/sys"
    chmod 1777 "$rootfs/tmp"
    rm -rf "$rootfs"/var/lib/apt "$rootfs"/etc/apt
  fi
  rm -rf "$rootfs"/usr/share/{doc,man,info,lintian,locale,initramfs-tools,bug} "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/* "$rootfs"/dev/*
  tar -C "$rootfs" -cf - . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
  rm -rf "$rootfs"
  say "base $image: $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}')"
}
if [[ ${BERTH_REBUILD_BASE:-} == 1 ]] || ! podman image exists "$base"; then
  make_base "$base" extract libc6,libgcc-s1,libstdc++6,tzdata,busybox-static,base-files,netbase
fi
if [[ ${BERTH_REBUILD_BASE:-} == 1 ]] || ! podman image exists "$build_base"; then
  make_base "$build_base" minbase build-essential,python3
fi

# 2. The context: the checkout's files and this machine's Node.js (binary, npm, headers).
context="$work/context"
rm -rf "$context" && mkdir -p "$context/src" "$context/node/bin" "$context/node/lib/node_modules" "$context/node/include"
if [[ -n ${BERTH_IMAGE_REV:-} ]]; then
  # A commit instead of the working tree (e.g. HEAD while other edits are in progress).
  git -C "$root" archive --format=tar "$BERTH_IMAGE_REV" | tar -C "$context/src" -xf - ||
    fail "git archive $BERTH_IMAGE_REV failed"
elif git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Files deleted in the working tree but still tracked are left out (test -e).
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [[ -e $file ]] && printf '%s\0' "$file"; done |
    tar --null -T - -cf -) | tar -C "$context/src" -xf -
else
  tar -C "$root" --exclude=./node_modules --exclude=./.next --exclude=./dist --exclude=./data -cf - . |
    tar -C "$context/src" -xf -
fi
prefix=$(dirname "$(dirname "$node")")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[[ -f $npm_dir/bin/npm-cli.js ]] || fail "cannot find npm next to $(command -v npm)"
[[ -f $prefix/include/node/node.h ]] || fail "no Node.js headers in $prefix/include/node (better-sqlite3 compiles against them)"
cp "$node" "$context/node/bin/node"
cp -a "$npm_dir" "$context/node/lib/node_modules/npm"
cp -a "$prefix/include/node" "$context/node/include/node"
cp "$root/Containerfile" "$context/Containerfile"
# npm's trust on this machine (e.g. a proxy's CA in NODE_EXTRA_CA_CERTS) goes in as a build secret.
ca="$work/npm-ca.pem"
: >"$ca"
[[ -n ${NODE_EXTRA_CA_CERTS:-} && -r $NODE_EXTRA_CA_CERTS ]] && cp "$NODE_EXTRA_CA_CERTS" "$ca"
registry=$(cd "$root" && npm config get registry)

# 3. The image.
say "building $tag…"
buildah bud --format docker --layers=false --build-arg "BASE=$base" \
  --build-arg "BUILD_BASE=$build_base" --build-arg "NPM_CONFIG_REGISTRY=$registry" --secret "id=npmca,src=$ca" -f "$context/Containerfile" -t "$tag" "$context"
size=$(podman image inspect --format '{{.Size}}' "$tag")
say "built $tag in $SECONDS s: $(awk -v s="$size" 'BEGIN { printf "%.1f MB (%.1f MiB)", s/1e6, s/1048576 }')"
