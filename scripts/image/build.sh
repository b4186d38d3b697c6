#!/usr/bin/env bash
# Builds Berth's container image offline with buildah (Containerfile at the repository root).
#   scripts/image/build.sh [TAG]        default TAG: localhost/berth:latest
# No base image is pulled: the base (localhost/berth-base:bookworm) is a Debian bookworm root of
# libc6, libstdc++6, libgcc-s1, tzdata and busybox-static made with mmdebstrap from this machine's
# Debian mirror (its apt sources), built once and reused (BERTH_REBUILD_BASE=1 makes it again).
# The Node.js runtime is this machine's `node` (20 or newer). The app is this checkout's build
# (made or refreshed as `npm start` does) with production dependencies only.
# As root, installs buildah, podman, runc and mmdebstrap with apt-get when missing (podman runs
# containers with runc here: crun refuses this sandbox's hybrid cgroups).
# Env: BERTH_IMAGE_WORK (scratch dir, default a new /tmp/berth-image.*; removed unless kept),
#      BERTH_KEEP_WORK=1, BERTH_BASE_IMAGE, BERTH_REBUILD_BASE=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:-localhost/berth:latest}
base=${BERTH_BASE_IMAGE:-localhost/berth-base:bookworm}
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

# 1. The base root, once.
if [[ ${BERTH_REBUILD_BASE:-} == 1 ]] || ! podman image exists "$base"; then
  say "making the base root with mmdebstrap (Debian bookworm, from this machine's apt sources)…"
  sources=()
  for file in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s $file ]] && grep -Eq '^(deb |URIs:)' "$file" && { sources=("$file"); break; }
  done
  # The extract variant unpacks just these packages (no dpkg, no apt, no maintainer scripts)
  # and runs no hooks: the few settings a runtime needs are made below.
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  mmdebstrap --quiet --mode=root --variant=extract --format=directory \
    --include=libc6,libgcc-s1,libstdc++6,tzdata,busybox-static,base-files,netbase \
    bookworm "$rootfs" "${sources[@]}" || fail "mmdebstrap failed (is this machine's Debian mirror reachable?)"
  for applet in $("$rootfs/bin/busybox" --list); do
    [[ -e $rootfs/bin/$applet || -L $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  mkdir -p "$rootfs/tmp" "$rootfs/root" "$rootfs/usr/local/bin" "$rootfs/proc" "$rootfs/sys"
  chmod 1777 "$rootfs/tmp"
  rm -rf "$rootfs"/usr/share/{doc,man,info,lintian,locale,initramfs-tools,bug} "$rootfs"/var/lib/apt \
    "$rootfs"/var/cache/* "$rootfs"/etc/apt "$rootfs"/dev/*
  tar -C "$rootfs" -cf - . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  say "base $base: $(podman image inspect --format '{{.Size}}' "$base" | awk '{printf "%.1f MB", $1/1e6}')"
fi

# 2. The app: this checkout's build, production dependencies only.
say "building the app (reused when up to date)…"
(cd "$root" && NEXT_TELEMETRY_DISABLED=1 node --input-type=module -e \
  'import { ensureDependencies, ensureBuild } from "./scripts/prepare.mjs"; ensureDependencies(); ensureBuild();')
context="$work/context"
rm -rf "$context" && mkdir -p "$context/app/.next" "$context/image"
say "staging production dependencies…"
(cd "$root" && cp -a bin dist public package.json package-lock.json next.config.js node_modules "$context/app/")
tar -C "$root/.next" --exclude=./cache -cf - . | tar -C "$context/app/.next" -xf -
(cd "$context/app" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null) ||
  fail "npm prune --omit=dev failed in $context/app"
cp "$node" "$context/node"
cp "$root"/scripts/image/{entrypoint.sh,healthcheck.mjs,trim.mjs,config.yml} "$context/image/"
cp "$root/Containerfile" "$context/Containerfile"

# 3. The image.
say "building $tag…"
buildah bud --quiet --format docker --layers=false --build-arg "BASE=$base" -f "$context/Containerfile" -t "$tag" "$context" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$tag")
say "built $tag: $(awk -v s="$size" 'BEGIN { printf "%.1f MB (%.1f MiB)", s/1e6, s/1048576 }')"
