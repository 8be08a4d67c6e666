#!/usr/bin/env bash
# Starts a real etcd + kube-apiserver on loopback for the end-to-end tests, with the flags
# controller-runtime's envtest uses, then installs Istio's and the PolicyReport CRDs.
#
#   MESHLOCK_E2E_DIR   state folder (certs, etcd data, logs, kubeconfig, env); created
#                      with mktemp when unset. Must not hold a running cluster.
#   MESHLOCK_E2E_BIN   folder with kube-apiserver, etcd, kubectl (default: what build.sh builds)
#   MESHLOCK_E2E_SHARED  the shared/ folder (default: ../shared beside the repository)
#   MESHLOCK_E2E_ADVERTISE_ADDRESS  force --advertise-address (default: only set when the
#                      machine has no default route, see below)
#   MESHLOCK_E2E_READY_TIMEOUT  seconds to wait for /readyz (default 120)
#
# Writes $MESHLOCK_E2E_DIR/env (KEY=value lines, shell-sourceable) and prints its path as
# the last line of stdout. Stop with: down.sh $MESHLOCK_E2E_DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

log() { echo "[e2e up] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

if [ -n "${MESHLOCK_E2E_BIN:-}" ]; then
  BIN="$MESHLOCK_E2E_BIN"
else
  BIN="$(bash "$HERE/build.sh" | tail -n 1)"
fi
for b in kube-apiserver etcd kubectl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing: run test/e2e/cluster/build.sh"
done
KUBECTL="$BIN/kubectl"

SHARED="${MESHLOCK_E2E_SHARED:-$REPO/../shared}"
ISTIO_CRDS="$SHARED/conformance/istio/crd-all.gen.yaml"
REPORT_CRDS="$SHARED/conformance/policyreport"
[ -f "$ISTIO_CRDS" ] || die "Istio CRDs not found at $ISTIO_CRDS (shared/ must sit beside the repository)"
[ -d "$REPORT_CRDS" ] || die "PolicyReport CRDs not found at $REPORT_CRDS"

if [ -n "${MESHLOCK_E2E_DIR:-}" ]; then
  D="$MESHLOCK_E2E_DIR"
  mkdir -p "$D"
  [ -f "$D/pids" ] && die "$D already holds a cluster (pids file present): run down.sh first"
else
  D="$(mktemp -d "${TMPDIR:-/tmp}/meshlock-e2e.XXXXXX")"
fi
D="$(cd "$D" && pwd)"
touch "$D/.meshlock-e2e"   # marker: down.sh only deletes folders that carry it
mkdir -p "$D/pki" "$D/logs"
mkdir -p -m 700 "$D/etcd"   # etcd warns about anything wider
: > "$D/pids"

started_ok=0
cleanup_on_error() {
  if [ "$started_ok" != 1 ]; then
    log "startup failed after $(elapsed) s; last log lines:"
    for f in "$D/logs/etcd.log" "$D/logs/kube-apiserver.log"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }; done
    bash "$HERE/down.sh" "$D" >&2 || true
  fi
}
trap cleanup_on_error EXIT

# --- free loopback ports -------------------------------------------------------------
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}
pick_ports() {
  local p seen=" "
  for name in ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT; do
    p="$(free_port)"
    while [[ "$seen" == *" $p "* ]]; do p="$(free_port)"; done
    seen="$seen$p "
    printf -v "$name" '%s' "$p"
  done
}
pick_ports

# --- certificates (openssl only, so the cluster does not depend on the product code) --
PKI="$D/pki"
ossl() { openssl "$@" 2>>"$D/logs/openssl.log"; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=meshlock-e2e-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

sign() { # name subject san extKeyUsage
  local name=$1 subj=$2 san=$3 eku=$4
  ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$PKI/$name.key" -out "$PKI/$name.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$PKI/$name.ext"
  ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -out "$PKI/$name.crt" -extfile "$PKI/$name.ext"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

# --- advertise address -----------------------------------------------------------------
# kube-apiserver derives its advertise address from the default route and dies with
# "no default routes found ... set the AdvertiseAddress" without one; loopback is refused
# as --advertise-address (controller-runtime#669, commit 0664cce6). Then use a
# non-loopback address of this machine (nothing connects to it: no kube-proxy runs).
# MESHLOCK_E2E_ADVERTISE_ADDRESS overrides.
ADVERTISE="${MESHLOCK_E2E_ADVERTISE_ADDRESS:-}"
has_default_route() {
  # What kube-apiserver reads (k8s.io/apimachinery/pkg/util/net): a 0.0.0.0/0 route in
  # /proc/net/route or a ::/0 one in /proc/net/ipv6_route, on an interface other than lo
  # (a lo-only network namespace has a ::/0 reject route on lo, which does not count).
  awk 'NR > 1 && $1 != "lo" && $2 == "00000000" && $8 == "00000000" { found = 1 } END { exit !found }' /proc/net/route 2>/dev/null && return 0
  awk '$10 != "lo" && $1 == "00000000000000000000000000000000" && $2 == "00" { found = 1 } END { exit !found }' /proc/net/ipv6_route 2>/dev/null
}
host_ipv4() {
  if command -v ip >/dev/null; then
    ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'
  else
    hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -n 1
  fi
}
if [ -z "$ADVERTISE" ] && ! has_default_route; then
  ADVERTISE="$(host_ipv4 || true)"
  # No address at all (a loopback-only network namespace): the apiserver only publishes
  # the advertise address in the "kubernetes" Service's endpoints and never binds it, so a
  # documentation address (RFC 5737 TEST-NET-2, never routed) serves. Verified with
  # `unshare -n`: the cluster comes up and the endpoints read 198.51.100.1.
  [ -n "$ADVERTISE" ] || ADVERTISE=198.51.100.1
  log "no default route: using --advertise-address=$ADVERTISE"
fi

SERVING_SAN="IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
[ -n "$ADVERTISE" ] && SERVING_SAN="$SERVING_SAN,IP:$ADVERTISE"
sign apiserver "/CN=kube-apiserver" "$SERVING_SAN" serverAuth
sign admin "/O=system:masters/CN=meshlock-e2e-admin" "" clientAuth
ossl genrsa -out "$PKI/sa.key" 2048
ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
TOKEN="$(openssl rand -hex 24)"
printf '%s,meshlock-e2e-admin,meshlock-e2e-admin,"system:masters"\n' "$TOKEN" > "$D/tokens.csv"
chmod 600 "$D/tokens.csv" "$PKI"/*.key

# Audit log at Metadata level: records the auditAnnotations that admission webhooks return.
cat > "$D/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/readyz*", "/livez*", "/healthz*", "/version", "/openapi*", "/api*"]
  - level: None
    resources: [{ group: coordination.k8s.io, resources: [leases] }]
  - level: Metadata
EOF

# The apiserver calls webhooks on 127.0.0.1: keep any proxy settings of the caller away from it.
run_bg() { # name cmd...
  local name=$1; shift
  env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy \
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    setsid "$@" > "$D/logs/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$D/pids"
}

# --- etcd ------------------------------------------------------------------------------
run_bg etcd "$BIN/etcd" \
  --name=default \
  --data-dir="$D/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true \
  --log-level=warn
ETCD_PID="$(awk '$1 == "etcd" { print $2 }' "$D/pids")"

alive() { kill -0 "$1" 2>/dev/null; }
deadline=$(( $(date +%s) + 30 ))
until curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
  alive "$ETCD_PID" || die "etcd exited (see $D/logs/etcd.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "etcd not healthy after 30 s"
  sleep 0.2
done
log "etcd $ETCD_VERSION healthy on 127.0.0.1:$ETCD_CLIENT_PORT after $(elapsed) s"

# --- kube-apiserver ----------------------------------------------------------------------
apiserver_args=(
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --cert-dir="$PKI"
  --tls-cert-file="$PKI/apiserver.crt"
  --tls-private-key-file="$PKI/apiserver.key"
  --secure-port="$APISERVER_PORT"
  --bind-address=127.0.0.1
  --service-cluster-ip-range=10.0.0.0/24
  --allow-privileged=true
  --authorization-mode=RBAC
  --disable-admission-plugins=ServiceAccount
  --client-ca-file="$PKI/ca.crt"
  --token-auth-file="$D/tokens.csv"
  --service-account-issuer="https://127.0.0.1:$APISERVER_PORT/"
  --service-account-key-file="$PKI/sa.pub"
  --service-account-signing-key-file="$PKI/sa.key"
  --audit-policy-file="$D/audit-policy.yaml"
  --audit-log-path="$D/logs/audit.log"
  --audit-log-format=json
  --audit-log-mode=blocking
)
[ -n "$ADVERTISE" ] && apiserver_args+=(--advertise-address="$ADVERTISE")
run_bg kube-apiserver "$BIN/kube-apiserver" "${apiserver_args[@]}"
APISERVER_PID="$(awk '$1 == "kube-apiserver" { print $2 }' "$D/pids")"

# --- kubeconfig --------------------------------------------------------------------------
KUBECONFIG_FILE="$D/kubeconfig"
kc() { "$KUBECTL" --kubeconfig="$KUBECONFIG_FILE" "$@"; }
kc config set-cluster e2e --server="https://127.0.0.1:$APISERVER_PORT" \
  --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
kc config set-credentials admin --token="$TOKEN" >/dev/null
kc config set-context e2e --cluster=e2e --user=admin --namespace=default >/dev/null
kc config use-context e2e >/dev/null
chmod 600 "$KUBECONFIG_FILE"

timeout_s="${MESHLOCK_E2E_READY_TIMEOUT:-120}"
deadline=$(( $(date +%s) + timeout_s ))
until [ "$(kc get --raw /readyz 2>/dev/null)" = "ok" ]; do
  alive "$APISERVER_PID" || die "kube-apiserver exited (see $D/logs/kube-apiserver.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "kube-apiserver not ready after $timeout_s s: $(kc get --raw '/readyz?verbose' 2>&1 | grep -v '\[+\]' | head -n 20)"
  sleep 0.5
done
log "kube-apiserver $K8S_VERSION ready on https://127.0.0.1:$APISERVER_PORT after $(elapsed) s"

# --- CRDs --------------------------------------------------------------------------------
# Server-side apply: crd-all.gen.yaml's CRDs are too large for client-side apply's
# last-applied annotation (262144 bytes).
kc apply --server-side --force-conflicts -f "$ISTIO_CRDS" > "$D/logs/crds.log"
kc apply --server-side --force-conflicts -f "$REPORT_CRDS" >> "$D/logs/crds.log"
kc wait --for=condition=Established --timeout=60s crd --all >> "$D/logs/crds.log"
# Established CRDs can still be missing from discovery for a moment; wait until kubectl
# resolves the kinds the tests use.
deadline=$(( $(date +%s) + 30 ))
until kc get peerauthentications.security.istio.io,destinationrules.networking.istio.io,policyreports.wgpolicyk8s.io -A >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || die "Istio/PolicyReport CRDs not served after 30 s"
  sleep 0.5
done
log "$(kc get crd -o name | wc -l) CRDs established after $(elapsed) s"

cat > "$D/env" <<EOF
MESHLOCK_E2E_DIR=$D
KUBECONFIG=$KUBECONFIG_FILE
KUBECTL=$KUBECTL
E2E_BIN=$BIN
E2E_K8S_VERSION=$K8S_VERSION
E2E_ETCD_VERSION=$ETCD_VERSION
E2E_APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
E2E_APISERVER_PORT=$APISERVER_PORT
E2E_APISERVER_PID=$APISERVER_PID
E2E_ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
E2E_ETCD_PEER_PORT=$ETCD_PEER_PORT
E2E_ETCD_PID=$ETCD_PID
E2E_CA_FILE=$PKI/ca.crt
E2E_TOKEN=$TOKEN
E2E_AUDIT_LOG=$D/logs/audit.log
E2E_LOG_DIR=$D/logs
E2E_SHARED=$(cd "$SHARED" && pwd)
E2E_STARTUP_SECONDS=$(elapsed)
EOF
started_ok=1
log "cluster up in $(elapsed) s; env: $D/env"
echo "$D/env"
