//go:build tools

// Package tools pins the etcd server that the Kubernetes API server tests store their objects in.
package tools

import _ "go.etcd.io/etcd/server/v3"
