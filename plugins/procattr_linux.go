package plugins

import (
	"os/exec"
	"syscall"
)

// setDeathSignal asks Linux to kill the plugin when eurekad dies, even by
// SIGKILL.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
