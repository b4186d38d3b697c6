#!/usr/bin/env bash
# Smoke test of Berth's container image: builds it (scripts/image/build.sh), runs it with podman
# (filesystem storage on a named volume, config mounted at /etc/distribution/config.yml,
# BERTH_ADMIN_PASSWORD set), pushes and pulls an image with skopeo, opens the console, logs in,
# checks the process runs as non-root and the HEALTHCHECK passes, then removes the container and
# the volume. Exits non-zero on the first failed check.
#   scripts/image/smoke.sh            build, then test localhost/berth:smoke
#   BERTH_SMOKE_NO_BUILD=1 …          test an image already built (BERTH_SMOKE_IMAGE)
# As root, installs skopeo/curl (and, through build.sh, buildah, podman, mmdebstrap) with apt-get.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
image=${BERTH_SMOKE_IMAGE:-localhost/berth:smoke}
started=$SECONDS
say() { echo "smoke: [$((SECONDS - started)) s] $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
checks=0
pass() { checks=$((checks + 1)); say "ok - $*"; }

missing=()
for tool in skopeo curl podman; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} with apt-get…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null ||
      fail "apt-get install ${missing[*]} failed"
  else
    fail "missing ${missing[*]}. Install them (Debian: sudo apt-get install -y ${missing[*]}) and run again."
  fi
fi

if [[ ${BERTH_SMOKE_NO_BUILD:-} != 1 ]]; then
  "$root/scripts/image/build.sh" "$image"
fi
podman image exists "$image" || fail "no image $image"
size=$(podman image inspect --format '{{.Size}}' "$image")

work=$(mktemp -d /tmp/berth-smoke.XXXXXX)
name="berth-smoke-$$"
volume="berth-smoke-$$"
cleanup() {
  podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A free port on loopback; the container uses the host's network (podman's port forwarding
# needs a CNI/netavark setup this sandbox may not have) and listens there.
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
password="smoke-$RANDOM-$RANDOM"
cat >"$work/config.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
console:
  statedir: /var/lib/registry/berth-state
YAML
chmod 644 "$work/config.yml"
podman volume create "$volume" >/dev/null
podman run -d --name "$name" \
  --runtime runc --cgroup-manager=cgroupfs --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --network host --health-interval=disable \
  -v "$volume:/var/lib/registry" \
  -v "$work/config.yml:/etc/distribution/config.yml:ro" \
  -e BERTH_ADMIN_PASSWORD="$password" \
  -e BERTH_HEALTHCHECK_URL="http://127.0.0.1:$port/v2/" \
  "$image" >/dev/null || fail "podman run failed"
base="http://127.0.0.1:$port"

ready=""
for _ in $(seq 1 120); do
  if [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v2/" || true) == 200 ]]; then ready=1; break; fi
  [[ $(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
  sleep 0.5
done
[[ -n $ready ]] || { podman logs "$name" >&2 || true; fail "the registry did not answer GET /v2/ 200 within 60 s"; }
pass "GET /v2/ answers 200 (image $image, $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s/1e6 }'))"
podman logs "$name" 2>&1 | grep -q '/etc/distribution/config.yml\|listening' || true

uid=$(podman exec "$name" id -u)
[[ $uid != 0 ]] || fail "the server runs as root"
pid1_uid=$(podman exec "$name" sh -c 'awk "/^Uid:/ {print \$2}" /proc/1/status')
[[ $pid1_uid != 0 ]] || fail "PID 1 runs as root"
pass "runs as non-root (id -u = $uid, PID 1 uid $pid1_uid)"

podman healthcheck run "$name" >/dev/null || fail "podman healthcheck run failed"
pass "HEALTHCHECK passes"

node "$root/scripts/image/make-layout.mjs" "$work/layout" 1.0 512 >"$work/digest"
digest=$(cat "$work/digest")
skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:1.0" "docker://127.0.0.1:$port/smoke/app:1.0" ||
  fail "skopeo push failed"
pass "skopeo pushed smoke/app:1.0"
skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$port/smoke/app:1.0" "oci:$work/pulled:1.0" ||
  fail "skopeo pull failed"
pulled=$(skopeo inspect --raw "oci:$work/pulled:1.0" | sha256sum | cut -d' ' -f1)
[[ "sha256:$pulled" == "$digest" ]] || fail "pulled manifest sha256:$pulled, pushed $digest"
cmp -s "$work/layout/blobs/sha256/$(ls -S "$work/layout/blobs/sha256" | head -1)" \
  "$work/pulled/blobs/sha256/$(ls -S "$work/layout/blobs/sha256" | head -1)" || fail "pulled layer differs"
pass "skopeo pulled it back byte for byte ($digest)"
podman exec "$name" sh -c 'test -s /var/lib/registry/docker/registry/v2/repositories/smoke/app/_manifests/tags/1.0/current/link' ||
  fail "no tag link in the volume (storage is not on /var/lib/registry)"
pass "stored in distribution's layout on the /var/lib/registry volume"

status=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/")
[[ $status == "302 $base/login?next=%2F" || $status == 200* ]] || fail "GET / answered $status"
login=$(curl -s -o "$work/login.html" -w '%{http_code}' "$base/login")
[[ $login == 200 ]] && grep -qi '<html' "$work/login.html" || fail "GET /login answered $login"
pass "console: GET / → $status, /login → 200"
answer=$(curl -s -c "$work/cookies" -H 'content-type: application/json' \
  -d "{\"user\":\"admin\",\"password\":\"$password\"}" "$base/api/trpc/auth.login")
[[ $answer == *'"role":"admin"'* ]] || fail "login as admin with BERTH_ADMIN_PASSWORD failed: $answer"
for page in / /repositories /repositories/smoke/app /gc; do
  code=$(curl -s -b "$work/cookies" -o /dev/null -w '%{http_code}' "$base$page")
  [[ $code == 200 ]] || { podman logs --tail 20 "$name" >&2 || true; fail "console page $page answered $code after login"; }
done
pass "console: admin logs in with BERTH_ADMIN_PASSWORD; /, /repositories, /repositories/smoke/app, /gc answer 200"

podman stop -t 10 "$name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || fail "the container exited $code on SIGTERM"
pass "stops cleanly on SIGTERM (exit 0)"

say "passed ($checks checks) in $((SECONDS - started)) s; image $image $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s/1e6 }')"
