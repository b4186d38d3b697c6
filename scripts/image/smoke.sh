#!/usr/bin/env bash
# Smoke test of Berth's container image, running the commands of docs/deploy-container.md (the
# blocks marked `<!-- test: NAME -->`, read with test/docs/blocks.mjs, so the page's commands are
# the ones tested): build the image, write the default config, run the container (named volume,
# config mounted at /etc/distribution/config.yml, BERTH_ADMIN_PASSWORD set), check /v2/, the
# HEALTHCHECK and a skopeo push, stop it and run a garbage collection's dry run on the volume.
# Around them: the process is not root, a byte-exact pull, the layout on the volume, the console's
# login and pages, a clean exit on SIGTERM; then it removes the container and the volume. Exits
# non-zero on the first failed check.
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

work=$(mktemp -d /tmp/berth-smoke.XXXXXX)
name="berth-smoke-$$"
cleanup() {
  podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$name-data" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A free port on loopback. The container uses the host's network (podman's port forwarding needs
# a CNI/netavark setup this sandbox may not have) and runc with cgroupfs and explicit ulimits
# (crun refuses its hybrid cgroups; no CAP_SYS_RESOURCE): a containers.conf of its own sets them,
# and the port as REGISTRY_HTTP_ADDR, so the page's `podman run` line runs unchanged.
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
password="smoke-$RANDOM-$RANDOM"
cat >"$work/containers.conf" <<CONF
[containers]
netns = "host"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
env = ["REGISTRY_HTTP_ADDR=127.0.0.1:$port", "BERTH_HEALTHCHECK_URL=http://127.0.0.1:$port/v2/"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF="$work/containers.conf"
doc_page="$root/docs/deploy-container.md"
# doc NAME [DIR]: runs the page's block NAME with bash in DIR (default the scratch dir), with the
# page's variables; its output goes to $work/NAME.out and is shown when it fails.
doc() {
  local block
  block=$(node "$root/test/docs/blocks.mjs" "$doc_page" "$1") || fail "no block $1 in $doc_page"
  (cd "${2:-$work}" && IMAGE="$image" NAME="$name" PORT="$port" BERTH_ADMIN_PASSWORD="$password" \
    bash -euo pipefail -c "$block") >"$work/$1.out" 2>&1 || { cat "$work/$1.out" >&2; fail "block $1 of $doc_page failed"; }
}

if [[ ${BERTH_SMOKE_NO_BUILD:-} != 1 ]]; then
  doc build "$root"
  pass "block build: built $image"
fi
podman image exists "$image" || fail "no image $image"
size=$(podman image inspect --format '{{.Size}}' "$image")

doc config
grep -q '^storage:' "$work/config.yml" || fail "block config wrote no configuration"
pass "block config: the image's default config.yml"
doc run
base="http://127.0.0.1:$port"
ready=""
for _ in $(seq 1 120); do
  if [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/v2/" || true) == 200 ]]; then ready=1; break; fi
  [[ $(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
  sleep 0.5
done
[[ -n $ready ]] || { podman logs "$name" >&2 || true; fail "the registry did not answer GET /v2/ 200 within 60 s"; }
pass "block run: GET /v2/ answers 200 (image $image, $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s/1e6 }'))"

uid=$(podman exec "$name" id -u)
[[ $uid != 0 ]] || fail "the server runs as root"
pid1_uid=$(podman exec "$name" sh -c 'awk "/^Uid:/ {print \$2}" /proc/1/status')
[[ $pid1_uid != 0 ]] || fail "PID 1 runs as root"
pass "runs as non-root (id -u = $uid, PID 1 uid $pid1_uid)"

node "$root/scripts/image/make-layout.mjs" "$work/app-oci" 1.0 512 >"$work/digest"
digest=$(cat "$work/digest")
doc check
grep -q '"repositories":\["team/app"\]' "$work/check.out" || fail "block check: the catalog does not list team/app: $(cat "$work/check.out")"
pass "block check: /v2/, HEALTHCHECK, skopeo pushed team/app:1.0, catalog"
skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$port/team/app:1.0" "oci:$work/pulled:1.0" ||
  fail "skopeo pull failed"
pulled=$(skopeo inspect --raw "oci:$work/pulled:1.0" | sha256sum | cut -d' ' -f1)
[[ "sha256:$pulled" == "$digest" ]] || fail "pulled manifest sha256:$pulled, pushed $digest"
cmp -s "$work/app-oci/blobs/sha256/$(ls -S "$work/app-oci/blobs/sha256" | head -1)" \
  "$work/pulled/blobs/sha256/$(ls -S "$work/app-oci/blobs/sha256" | head -1)" || fail "pulled layer differs"
pass "skopeo pulled it back byte for byte ($digest)"
podman exec "$name" sh -c 'test -s /var/lib/registry/docker/registry/v2/repositories/team/app/_manifests/tags/1.0/current/link' ||
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
for page in / /repositories /repositories/team/app /gc; do
  code=$(curl -s -b "$work/cookies" -o /dev/null -w '%{http_code}' "$base$page")
  [[ $code == 200 ]] || { podman logs --tail 20 "$name" >&2 || true; fail "console page $page answered $code after login"; }
done
pass "console: admin logs in with BERTH_ADMIN_PASSWORD; /, /repositories, /repositories/team/app, /gc answer 200"

doc stop
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || fail "the container exited $code on SIGTERM"
grep -q 'would delete 0 manifests, 0 blobs' "$work/stop.out" || fail "block stop: unexpected dry run: $(cat "$work/stop.out")"
pass "block stop: stops cleanly on SIGTERM (exit 0); garbage-collect --dry-run on the volume finds nothing to delete"

say "passed ($checks checks) in $((SECONDS - started)) s; image $image $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s/1e6 }')"
