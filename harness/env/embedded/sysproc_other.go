//go:build !linux

package embedded

import "syscall"

// sysProcAttr puts the child in its own process group. Outside Linux there
// is no parent-death signal: a crashed parent can leave the child running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
