//go:build tools

// Package tools pins ghz, the gRPC load generator the benchmark runs.
package tools

import _ "github.com/bojand/ghz/cmd/ghz"
