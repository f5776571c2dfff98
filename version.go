// Package lbdns holds what the whole tree shares: the release it is.
package lbdns

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var versionFile string

// Version is the release this tree builds, from the file VERSION: the
// binary, the image's tag and labels, the chart and every manifest take it
// (version_test.go checks that they agree).
func Version() string { return strings.TrimSpace(versionFile) }
