#!/usr/bin/env bash
# Builds Gatekeeper (the controller manager that serves its admission webhook) from its Go module at
# one pinned version, for bench/peers.mjs. This folder is a wrapper module that requires it as a tool,
# so go.sum pins every dependency. The binary goes to a cache outside the repository, keyed by
# version, and is rebuilt only when the cached one is of another version. Prints its path last.
#
#   MESHLOCK_GATEKEEPER_CACHE  cache root (default: $HOME/.cache/meshlock/gatekeeper)
set -euo pipefail

VERSION=v3.23.1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MESHLOCK_GATEKEEPER_CACHE:-$HOME/.cache/meshlock/gatekeeper}"
BIN="$CACHE/$VERSION/gatekeeper"

# Go records the main module's version in the binary; read with `go version -m`.
reported() {
  command -v go >/dev/null 2>&1 || return 0
  go version -m "$BIN" 2>/dev/null | awk '($1 == "mod" || $1 == "dep") && $2 == "github.com/open-policy-agent/gatekeeper/v3" { print $3 }'
}
if [ -x "$BIN" ] && [ "$(reported)" = "$VERSION" ]; then
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: Go is needed to build Gatekeeper $VERSION (go.mod asks for $(sed -n 's/^go //p' "$HERE/go.mod") or newer)" >&2
  exit 2
fi
if ! grep -q "github.com/open-policy-agent/gatekeeper/v3 $VERSION" "$HERE/go.mod"; then
  echo "build.sh: bench/gatekeeper/go.mod does not require github.com/open-policy-agent/gatekeeper/v3 $VERSION" >&2
  exit 2
fi

mkdir -p "$CACHE/$VERSION"
echo "build.sh: building Gatekeeper $VERSION into $BIN (a cold build takes 10-20 minutes on 2 cores)" >&2
start=$(date +%s)
(
  cd "$HERE"
  CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -mod=readonly" \
    nice -n 10 go build -trimpath -o "$BIN.tmp" -ldflags "-s -w" github.com/open-policy-agent/gatekeeper/v3
)
mv "$BIN.tmp" "$BIN"
echo "build.sh: built in $(( $(date +%s) - start )) s" >&2
if [ "$(reported)" != "$VERSION" ]; then
  echo "build.sh: the built binary reports version '$(reported)', expected $VERSION" >&2
  exit 1
fi
echo "$BIN"
