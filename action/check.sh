#!/usr/bin/env bash
# The check step of action.yml: SARIF to a file for code scanning, the text report in the log, the
# exit code as an output. Inputs come as MESHLOCK_* variables (see action.yml).
set -uo pipefail
cli=(node "$GITHUB_ACTION_PATH/dist/cli/main.js" check)
args=(-n "${MESHLOCK_NAMESPACE:-default}")
[ -n "${MESHLOCK_CONFIG:-}" ] && args+=(-c "$MESHLOCK_CONFIG")
read -r -d '' -a paths <<<"${MESHLOCK_FILES:-.}"
for p in "${paths[@]}"; do args+=(-f "$p"); done
sarif="${MESHLOCK_SARIF:-meshlock.sarif}"

"${cli[@]}" "${args[@]}" -o sarif --out "$sarif"
code=$?
# The same check again as text for the log; SARIF above decides the outcome.
"${cli[@]}" "${args[@]}" -o text --no-color || true

{
  echo "sarif-file=$sarif"
  echo "exit-code=$code"
} >>"${GITHUB_OUTPUT:-/dev/null}"

case "$code" in
  0) exit 0 ;;
  1) [ "${MESHLOCK_FAIL_ON_DENY:-true}" = "false" ] && { echo "::warning::meshlock check: something would be denied (see $sarif)"; exit 0; }
     echo "::error::meshlock check: something would be denied (see $sarif)"; exit 1 ;;
  *) echo "::error::meshlock check could not check the input (exit $code)"; exit "$code" ;;
esac
