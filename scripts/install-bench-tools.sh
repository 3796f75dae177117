#!/usr/bin/env bash
# Builds the benchmark's Go peers from the Go module proxy with this machine's toolchain, pinned
# by their go.sum files and cached under the home folder: ghz (the gRPC load generator) and the
# Go function on Crossplane's Go SDK. Copies the SDK's run_function.proto for ghz.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${XDG_CACHE_HOME:-$HOME/.cache}/function-cross-platform-secret"
mkdir -p "$cache" _output/bin _output/bench/proto

build() { # name, module dir, package
  local sum bin
  sum=$(cat "$2/go.sum" "$2"/*.go 2>/dev/null | sha256sum | cut -c1-12)
  bin="$cache/$1-$sum"
  if [ ! -x "$bin" ]; then
    echo "building $1"
    (cd "$2" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" "$3")
    mv "$bin.tmp" "$bin"
  fi
  ln -sf "$bin" "_output/bin/$1"
}

build ghz tools/ghz github.com/bojand/ghz/cmd/ghz
build go-function bench/go-function .

sdk=$(cd bench/go-function && GOTOOLCHAIN=local go list -m -f '{{.Dir}}' github.com/crossplane/function-sdk-go)
cp "$sdk/proto/v1/run_function.proto" _output/bench/proto/run_function.proto
chmod u+w _output/bench/proto/run_function.proto

# The compiled benchmark reads the XRD, the input CRD and the examples relative to itself.
for d in apis package examples; do ln -sfn "../../../$d" "_output/bench/js/$d"; done
