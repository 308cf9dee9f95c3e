package labtest

import (
	"errors"
	"fmt"
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

// InNetNamespace runs the calling test again in a child process that is
// root of a new user namespace (the caller's user mapped to root: no
// privilege needed where unprivileged user namespaces are allowed) and of
// a new network namespace of its own, with loopback up and
// net.ipv4.tcp_fastopen set to 3. Like InUserNamespace it reports whether
// the caller is that child; in the parent it waits for the child and
// fails the test if the child failed. It skips the test where such
// namespaces cannot be created (in CI, where they can, it fails). It
// gives tests of package fastopen's connections a contributor without
// root can run.
func InNetNamespace(t *testing.T) bool {
	if os.Getenv(UserNSEnv) == t.Name() {
		if err := setupNetNamespace(); err != nil {
			t.Fatalf("set up the network namespace: %v", err)
		}
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), UserNSEnv+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if !InCI() && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EACCES)) {
			t.Skipf("cannot create a user and network namespace here: %v", err)
		}
		t.Fatalf("in a user and network namespace: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	return false
}

// setupNetNamespace brings loopback up and turns TFO on for both sides in
// the calling process's (new) network namespace.
func setupNetNamespace() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return os.WriteFile("/proc/sys/net/ipv4/tcp_fastopen", []byte("3"), 0)
}
