//go:build tools

// Package tools pins the Kubernetes API server that the cluster tests run against.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
