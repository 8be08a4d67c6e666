#!/usr/bin/env bash
# End-to-end suite against a real kube-apiserver (npm run test:e2e).
#   1. builds kube-apiserver, kube-controller-manager, kubectl, etcd, istiod and istioctl from
#      Go modules unless cached (cluster/build.sh; MESHLOCK_E2E_ISTIO=0 skips Istio)
#   2. builds meshlock (dist/) if it is missing
#   3. starts the control plane and Istio (cluster/up.sh), always stopped again on exit (cluster/down.sh)
#   4. runs test/e2e/*.test.ts with tap, one file at a time, TAP output
#   5. prints build, startup and suite durations and an "e2e: N passed, N failed" line
# Arguments: test files to run instead of all of them.
#   MESHLOCK_E2E_KEEP=1   keep the cluster's state folder (logs, audit log) after the run
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO" || exit 1
# Node 24 from the project's devDependency, as under `npm run`.
export PATH="$REPO/node_modules/.bin:$PATH"

log() { echo "[e2e] $*" >&2; }
now() { date +%s; }
t_all=$(now)

# --- 1. control plane binaries -------------------------------------------------------------
t=$(now)
if ! built_out="$(bash "$HERE/cluster/build.sh")" || ! BIN="$(printf '%s\n' "$built_out" | tail -n 1)" || [ -z "$BIN" ]; then
  log "building the control plane failed (see above)"
  echo "# { total: 1, pass: 0, fail: 1 }"
  echo "e2e: 0 passed, 1 failed"
  exit 1
fi
build_s=$(( $(now) - t ))
# Istio's binaries (absent with MESHLOCK_E2E_ISTIO=0).
MESHLOCK_E2E_ISTIO_BIN="$(printf '%s\n' "$built_out" | sed -n 's/^ISTIO_BIN=//p')"
export MESHLOCK_E2E_ISTIO_BIN

# --- 2. meshlock itself ----------------------------------------------------------------------
t=$(now)
if [ ! -f "$REPO/dist/cli/main.js" ]; then
  log "dist/ missing: npm run build"
  npm run build >&2 || { log "npm run build failed"; echo "# { total: 1, pass: 0, fail: 1 }"; echo "e2e: 0 passed, 1 failed"; exit 1; }
fi
tsc_s=$(( $(now) - t ))

# --- 3. cluster --------------------------------------------------------------------------------
MESHLOCK_E2E_DIR="$(mktemp -d "${TMPDIR:-/tmp}/meshlock-e2e.XXXXXX")"
export MESHLOCK_E2E_DIR
down() {
  local rc=$?
  [ -n "${stopped:-}" ] && return $rc
  stopped=1
  if [ "${suite_rc:-1}" != 0 ] && [ -f "$MESHLOCK_E2E_DIR/logs/kube-apiserver.log" ]; then
    log "kube-apiserver's last webhook and error lines:"
    grep -E 'webhook|^E[0-9]' "$MESHLOCK_E2E_DIR/logs/kube-apiserver.log" | tail -n 10 | cut -c1-600 >&2
  fi
  bash "$HERE/cluster/down.sh" "$MESHLOCK_E2E_DIR"
  return $rc
}
trap down EXIT
trap 'exit 130' INT TERM

t=$(now)
if ! MESHLOCK_E2E_BIN="$BIN" bash "$HERE/cluster/up.sh" >/dev/null; then
  log "the control plane did not start (see above)"
  echo "# { total: 1, pass: 0, fail: 1 }"
  echo "e2e: 0 passed, 1 failed"
  exit 1
fi
up_s=$(( $(now) - t ))
export MESHLOCK_E2E_ENV="$MESHLOCK_E2E_DIR/env"

# --- 4. suite ----------------------------------------------------------------------------------
# Files run one at a time, in this order (the cluster check first, meshlock's own parts after),
# each with its own tap process: every file points the cluster's webhook configurations at its
# own meshlock server. Explicit files override .taprc's exclude of test/e2e.
ORDER=(cluster rules mutation ordering modes enforcement live-safety audit)
if [ $# -gt 0 ]; then
  files=("$@")
else
  files=()
  for f in "${ORDER[@]}"; do [ -f "test/e2e/$f.test.ts" ] && files+=("test/e2e/$f.test.ts"); done
  for f in test/e2e/*.test.ts; do
    [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
  done
fi
t=$(now)
tap_out="$MESHLOCK_E2E_DIR/tap.out"
: > "$tap_out"
suite_rc=0
for f in "${files[@]}"; do
  ft=$(now)
  tap --jobs=1 --disable-coverage --allow-empty-coverage --timeout=300 --reporter=tap "$f" \
    | tee -a "$tap_out"
  rc=${PIPESTATUS[0]}
  log "$f: exit $rc in $(( $(now) - ft )) s"
  [ "$rc" = 0 ] || suite_rc=1
done
suite_s=$(( $(now) - t ))

# --- 5. summary --------------------------------------------------------------------------------
# Count the tests of each file (TAP subtests one level down), and a file that failed
# without any failing test (it crashed, or could not start) as one failure.
read -r passed failed < <(awk '
  /^    ok [0-9]+/                { p++ }
  /^    not ok [0-9]+/            { f++; file_f++ }
  /^# Subtest: /                  { file_f = 0 }
  /^not ok [0-9]+/                { if (file_f == 0) f++ }
  END { print p + 0, f + 0 }' "$tap_out")
if [ "$suite_rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi

# Stop the cluster before the summary, so the pass/fail line is the last one printed.
down
trap - EXIT
log "control plane build/check: ${build_s} s; meshlock build: ${tsc_s} s; cluster startup: ${up_s} s; suite: ${suite_s} s; total: $(( $(now) - t_all )) s"
# tap's own closing-summary shape, for readers of tap output (.ci/run reads the last one);
# the per-file tap runs above each printed one for their file only.
echo "# { total: $(( passed + failed )), pass: $passed, fail: $failed }"
echo "e2e: $passed passed, $failed failed"
exit "$suite_rc"
