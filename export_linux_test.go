package fastopen

import (
	"net/netip"
	"time"

	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

// KernelReportsClientFail exposes kernelReportsClientFail to the tests.
var KernelReportsClientFail = kernelReportsClientFail

// SetTestHookBeforeTrigger sets the hook that runs before a Read (or an
// empty Write) sends its data-less SYN; nil removes it.
func SetTestHookBeforeTrigger(f func()) { testHookBeforeTrigger = f }

// SetTestHookWait sets the hook that runs when a Read or Write is about
// to block waiting for the handshake; nil removes it.
func SetTestHookWait(f func(op string)) { testHookWait = f }

// SetSetsockoptInt replaces the function that sets integer socket options
// (nil restores unix.SetsockoptInt), to inject an older kernel's errors.
func SetSetsockoptInt(f func(fd, level, opt, value int) error) {
	if f == nil {
		f = unix.SetsockoptInt
	}
	setsockoptInt = f
}

// SetFastOpenMode replaces the reader of net.ipv4.tcp_fastopen (nil
// restores sysctl.FastOpenMode), to inject an unreadable /proc/sys.
func SetFastOpenMode(f func() (sysctl.Mode, error)) {
	if f == nil {
		f = sysctl.FastOpenMode
	}
	fastOpenMode = f
}

// CachedRTT returns the RTT the kernel's TCP metrics cache holds for ip
// (in the calling thread's namespace) and whether it holds a cookie.
func CachedRTT(ip netip.Addr) (rtt, rttVar time.Duration, cookie bool) {
	pc := lookupPaths(ip)[0]
	return pc.rtt, pc.rttVar, pc.cookie
}

// SetKernelReportsClientFail makes the package behave as on a kernel that
// does (true) or does not (false, before Linux 5.5) fill
// tcpi_fastopen_client_fail; it returns the function that restores it.
func SetKernelReportsClientFail(v bool) (restore func()) {
	old := kernelReportsClientFail
	kernelReportsClientFail = v
	return func() { kernelReportsClientFail = old }
}
