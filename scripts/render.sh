#!/usr/bin/env bash
# Renders a CrossPlatformSecret through the real Crossplane CLI against the function running
# locally. Usage: scripts/render.sh examples/all-platforms.yaml [extra `crossplane render` flags]
set -euo pipefail
cd "$(dirname "$0")/.."

xr=${1:?usage: scripts/render.sh XR.yaml [render flags]}
shift
port=${FUNCTION_PORT:-9443}
[ -x _output/bin/crossplane ] || scripts/install-crossplane-cli.sh >&2
[ -f dist/main.js ] || npm run build >&2

node dist/main.js --insecure --address="127.0.0.1:$port" >_output/function.log 2>&1 &
fn=$!
trap 'kill $fn 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q '"msg":"listening"' _output/function.log && break
  kill -0 $fn 2>/dev/null || { cat _output/function.log >&2; exit 1; }
  sleep 0.1
done

_output/bin/crossplane render "$xr" apis/composition.yaml examples/functions.yaml \
  --xrd=apis/definition.yaml --include-function-results \
  -a "render.crossplane.io/runtime-development-target=127.0.0.1:$port" "$@"
