#!/usr/bin/env bash
# Runs Schemathesis (`--checks all`) against a real `lvu serve` on 127.0.0.1, with one stream replaying VIDEO.
# Both run inside a new network namespace that has only a loopback interface (unshare -n, as root): the fuzzer
# adds streams with sources it invents, and none of them can reach any address but this machine's.
#   tools/api/schemathesis.sh VIDEO [--token TOKEN] [--max-examples N]
# Exits with Schemathesis' status; its summary is the last lines of the output.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VIDEO="$1"; shift
TOKEN=""; MAX=20
while [ $# -gt 0 ]; do
  case "$1" in
    --token) TOKEN="$2"; shift 2 ;;
    --max-examples) MAX="$2"; shift 2 ;;
    --inner) INNER=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "${INNER:-}" ]; then
  exec unshare --net "$0" "$VIDEO" ${TOKEN:+--token "$TOKEN"} --max-examples "$MAX" --inner
fi
ip link set lo up
DIR="$(mktemp -d)"
PORT=18080
cat > "$DIR/pipeline.yaml" <<YAML
server: { host: 127.0.0.1, port: $PORT }
engine: { query: { maxQuestionChars: 4000 } }
streams:
  - { id: cam, source: "$VIDEO" }
YAML
LVU_TOKEN="$TOKEN" node "$ROOT/packages/cli/bin/lvu.js" serve --config "$DIR/pipeline.yaml" >"$DIR/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; wait $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
AUTH=()
[ -n "$TOKEN" ] && AUTH=(--header "Authorization: Bearer $TOKEN")
set +e
"$ROOT/.venv/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" --checks all --max-examples "$MAX" \
  --generation-deterministic --request-timeout 30 --no-color "${AUTH[@]}"
rc=$?
set -e
if ! kill -0 $SERVE 2>/dev/null; then echo "lvu serve died during the run:"; tail -20 "$DIR/serve.log"; rc=1; fi
exit $rc
