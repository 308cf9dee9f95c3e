package kernel

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIsInitial: the initial namespace is recognised from PID 1's
// namespace and, when that cannot be read (a sandbox hiding PID 1), from
// the fixed inode of newer kernels; otherwise the answer is unknown, not
// "not the host's".
func TestIsInitial(t *testing.T) {
	denied := errors.New("permission denied")
	const nsfsDev = 4
	for _, tc := range []struct {
		name          string
		cur, init     unix.Stat_t
		initErr       error
		host, unknown bool
	}{
		{"same as PID 1", unix.Stat_t{Ino: 4026531840, Dev: nsfsDev}, unix.Stat_t{Ino: 4026531840, Dev: nsfsDev}, nil, true, false},
		{"other than PID 1", unix.Stat_t{Ino: 4026532999, Dev: nsfsDev}, unix.Stat_t{Ino: 4026531840, Dev: nsfsDev}, nil, false, false},
		{"PID 1 hidden, fixed initial inode", unix.Stat_t{Ino: initNetInode, Dev: nsfsDev}, unix.Stat_t{}, denied, true, false},
		{"PID 1 hidden, any other inode", unix.Stat_t{Ino: 4026532999, Dev: nsfsDev}, unix.Stat_t{}, denied, false, true},
	} {
		host, unknown := isInitial(tc.cur, tc.init, tc.initErr)
		if host != tc.host || unknown != tc.unknown {
			t.Errorf("%s: host %v unknown %v, want %v %v", tc.name, host, unknown, tc.host, tc.unknown)
		}
	}
	if s := (Namespace{Inode: 4026532999, HostUnknown: true}).String(); s != "network namespace net:[4026532999] (the host's or not: /proc/1/ns/net cannot be read)" {
		t.Errorf("String of an unknown namespace: %q", s)
	}
}
