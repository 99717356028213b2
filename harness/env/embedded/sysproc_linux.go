package embedded

import "syscall"

// sysProcAttr puts the child in its own process group (so signals reach it
// and only it) and has the kernel SIGKILL it if this process dies, so a
// crashed test leaves no broker behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
