#!/usr/bin/env bash
# The OCI distribution-spec conformance suite (the official binary, v1.1.1) against a fresh Berth:
# the build in dist/ (`npm test` or `npm run build` makes it), registry only, filesystem storage in
# a temporary directory, deletes enabled, on a free port of 127.0.0.1. Prints the suite's summary
# and exits non-zero when any spec fails.
#
# The binary is not part of Berth: CI provides it in ../shared/tools/oci-conformance. Without it
# the suite is skipped, saying so, and the script exits 0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
suite="$root/../shared/tools/oci-conformance/conformance-v1.1.1.test.xz"

if [[ ! -f $suite ]]; then
  echo "conformance: SKIPPED the OCI conformance suite: $suite is not there (CI provides it; a clone does not)"
  exit 0
fi

work=$(mktemp -d)
berth=""
cleanup() {
  if [[ -n $berth ]] && kill -0 "$berth" 2>/dev/null; then
    kill "$berth"
    wait "$berth" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

xz -dc "$suite" >"$work/conformance.test"
chmod +x "$work/conformance.test"

# Port 0: the system picks a free port, and Berth's "listening" log line says which.
cat >"$work/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: json
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
  secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
EOF

# REGISTRY_* variables would override the file (as they do for distribution).
for name in $(compgen -e); do
  if [[ $name == REGISTRY_* ]]; then unset "$name"; fi
done

node "$root/bin/berth.js" serve --registry-only "$work/config.yml" >"$work/berth.log" 2>&1 &
berth=$!

url=""
for _ in $(seq 300); do
  if ! kill -0 "$berth" 2>/dev/null; then
    echo "conformance: Berth exited before it listened:" >&2
    cat "$work/berth.log" >&2
    exit 1
  fi
  # The JSON line's key order is the logger's business: find the line, then its url.
  url=$(grep -F '"msg":"listening"' "$work/berth.log" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p' | head -n 1 || true)
  if [[ -n $url ]]; then break; fi
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "conformance: Berth did not listen within 30 s:" >&2
  cat "$work/berth.log" >&2
  exit 1
fi

echo "conformance: OCI distribution-spec conformance suite v1.1.1 against Berth at $url"
status=0
(
  cd "$work"
  OCI_ROOT_URL="$url" OCI_NAMESPACE=conformance/testrepo OCI_CROSSMOUNT_NAMESPACE=conformance/crossmount \
    OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 \
    OCI_HIDE_SKIPPED_WORKFLOWS=0 OCI_DEBUG=0 OCI_REPORT_DIR="$work" \
    ./conformance.test -ginkgo.no-color
) >"$work/suite.log" 2>&1 || status=$?

# Ginkgo's summary: the failed specs, the count, and SUCCESS! or FAIL!.
summary=$(grep -E '^\s*\[FAIL\]|^Ran [0-9]+ of [0-9]+ Specs|^(SUCCESS|FAIL)! --' "$work/suite.log" || true)
if [[ -z $summary ]]; then
  echo "conformance: the suite printed no summary (exit $status); its output ends with:" >&2
  tail -n 40 "$work/suite.log" >&2
  exit 1
fi
echo "$summary"
if [[ $status -ne 0 ]] || ! grep -q '^SUCCESS! --' "$work/suite.log"; then
  echo "conformance: FAILED"
  logged=$(grep -v '"level":"info"' "$work/berth.log" || true)
  if [[ -n $logged ]]; then printf 'conformance: Berth logged:\n%s\n' "$logged"; fi
  exit 1
fi
echo "conformance: passed"
