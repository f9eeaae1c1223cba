//go:build !linux

package plugins

import "os/exec"

// setDeathSignal has no equivalent here; sdk/plugin.Serve's parent watch
// ends an orphaned plugin.
func setDeathSignal(*exec.Cmd) {}
