package labtest

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// UserNSEnv is set, to the test's name, in the environment of a test
// binary re-executed by InUserNamespace (an init function can look at it).
const UserNSEnv = "FASTOPEN_TEST_IN_USERNS"

// InUserNamespace runs the calling test again, in a child process that is
// root of a new user namespace: root in name, without capabilities over
// the host's namespaces, like `unshare -U -r`. It reports whether the
// caller is that child and must now do the test's work; in the parent it
// waits for the child, fails the test if the child failed, and returns
// false. It skips the test where user namespaces cannot be created.
// extraFlags adds namespaces to the child's (e.g. unix.CLONE_NEWNS: a
// mount namespace of its own, where the child may mount).
func InUserNamespace(t *testing.T, extraFlags uintptr) bool {
	if os.Getenv(UserNSEnv) == t.Name() {
		return true
	}
	NeedRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), UserNSEnv+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | extraFlags,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
			t.Skipf("cannot create a user namespace here: %v", err)
		}
		t.Fatalf("in a user namespace: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	return false
}
