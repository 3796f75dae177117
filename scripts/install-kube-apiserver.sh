#!/usr/bin/env bash
# Builds etcd (v3.6.16) and kube-apiserver (v1.37.2) from the Go module proxy with this machine's
# Go toolchain, pinned by tools/kube/*/go.sum, and links them to _output/bin/ for the tests that
# need a real Kubernetes API server. The binaries are cached under the home folder, keyed by the
# version and the go.sum hash, so a warm run only checks that they exist. A cold run downloads
# about 1 GB of modules and compiles for about ten minutes on two cores (2.5 GB of memory).
set -euo pipefail
cd "$(dirname "$0")/.."

etcd_version=v3.6.16
kube_version=v1.37.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/function-cross-platform-secret"
mkdir -p "$cache" _output/bin

build() { # name, version, module dir, package, extra linker flags
  local sum bin
  sum=$(cat "$3/go.mod" "$3/go.sum" | sha256sum | cut -c1-12)
  bin="$cache/$1-$2-$sum"
  if [ ! -x "$bin" ]; then
    echo "building $1 $2 (a cold build takes minutes)"
    # Pinned module files rather than `go install pkg@version`: neither module installs on its
    # own (etcd's server and Kubernetes replace their sibling modules with local folders).
    (cd "$3" && GOTOOLCHAIN=local GOFLAGS=-mod=mod \
      go build -trimpath -ldflags "-s -w $5" -o "$bin.tmp" "$4")
    mv "$bin.tmp" "$bin"
  fi
  ln -sf "$bin" "_output/bin/$1"
}

build etcd "$etcd_version" tools/kube/etcd go.etcd.io/etcd/server/v3 ""
# Without the version stamp the server reports v0.0.0, which clients read as an ancient cluster.
stamp=k8s.io/component-base/version
build kube-apiserver "$kube_version" tools/kube/apiserver k8s.io/kubernetes/cmd/kube-apiserver \
  "-X $stamp.gitVersion=$kube_version -X $stamp.gitMajor=1 -X $stamp.gitMinor=37"

_output/bin/etcd --version | sed -n 1p
_output/bin/kube-apiserver --version
