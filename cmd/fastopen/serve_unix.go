//go:build unix

package main

import "golang.org/x/sys/unix"

// fdLimit returns the process's descriptor limit (RLIMIT_NOFILE, soft;
// Go raises it to the hard limit at start-up).
func fdLimit() (uint64, bool) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
