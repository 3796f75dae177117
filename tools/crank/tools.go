//go:build tools

// Package tools pins the Crossplane CLI (crank) that the end-to-end tests run.
package tools

import _ "github.com/crossplane/crossplane/v2/cmd/crank"
