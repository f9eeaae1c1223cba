//go:build unix

package plugin

import (
	"os"
	"syscall"
)

// socketPair returns a connected pair of stream sockets, both close-on-exec
// (exec.Cmd's ExtraFiles clears that on the child's copy). They stay in
// blocking mode: a read blocks its thread, not a netpoller wait.
func socketPair() (host, child *os.File, err error) {
	syscall.ForkLock.RLock() // no fork between socketpair and CloseOnExec
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "batch-pipe"), os.NewFile(uintptr(fds[1]), "batch-pipe-plugin"), nil
}

// shutdown wakes a read blocked on f: closing the descriptor alone does
// not, and waits for the read.
func shutdown(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
	}
}

// adoptPipe returns the inherited descriptor fd as a file if it is a
// socket, close-on-exec from now on.
func adoptPipe(fd int) *os.File {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "batch-pipe")
}
