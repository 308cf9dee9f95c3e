package lab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/fastopen/fastopen/sysctl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Prefix starts the name of every network namespace the lab creates, so that
// stale ones left by a crash can be found and removed (see CleanStale).
const Prefix = "fo-"

// netnsDir is where named network namespaces are mounted (iproute2's
// NETNS_RUN_DIR).
const netnsDir = "/var/run/netns"

// ErrPrivilege is returned (wrapped) when an operation needs root or
// CAP_NET_ADMIN and the process does not have it. It is
// sysctl.ErrPrivilege, so either matches.
var ErrPrivilege = sysctl.ErrPrivilege

// HostConfig describes a host to create.
type HostConfig struct {
	// Name is a short label (e.g. "client"); the namespace gets a unique
	// name built from Prefix, this label and a random suffix.
	Name string
	// FastOpen is the value written to net.ipv4.tcp_fastopen inside the
	// host (a sysctl.Mode bit set). Zero means the kernel default of a new
	// namespace (1, client only); use FastOpenSet to force 0.
	FastOpen int
	// FastOpenSet makes FastOpen authoritative even when it is zero.
	FastOpenSet bool
}

// Host is a network namespace with its loopback up: an isolated TCP stack
// with its own sysctls, TFO counters and cookie cache. Its methods may be
// called from several goroutines at once.
type Host struct {
	// Name is the label given in HostConfig.
	Name string
	// NS is the namespace's name under /var/run/netns, usable with
	// `ip netns exec`.
	NS string

	mu       sync.Mutex
	handle   netns.NsHandle
	closed   bool
	borrowed bool // opened with Attach: Close keeps the namespace
}

// NewHost creates a network namespace, brings its loopback up and sets
// net.ipv4.tcp_fastopen as configured. Close removes it. It needs root /
// CAP_NET_ADMIN: without, the error wraps ErrPrivilege.
func NewHost(cfg HostConfig) (*Host, error) {
	if cfg.Name == "" {
		cfg.Name = "host"
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, err
	}
	nsName := fmt.Sprintf("%s%s-%d-%s", Prefix, sanitize(cfg.Name), os.Getpid(), hex.EncodeToString(suffix[:]))
	h := &Host{Name: cfg.Name, NS: nsName}

	handle, err := newNamedNS(nsName)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("lab: create namespace %s: %v: %w", nsName, err, ErrPrivilege)
		}
		return nil, fmt.Errorf("lab: create namespace %s: %w", nsName, err)
	}
	h.handle = handle
	err = h.Run(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("find loopback: %w", err)
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return fmt.Errorf("bring loopback up: %w", err)
		}
		if cfg.FastOpen != 0 || cfg.FastOpenSet {
			return sysctl.SetFastOpenMode(sysctl.Mode(cfg.FastOpen))
		}
		return nil
	})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("lab: host %s: %w", cfg.Name, err)
	}
	return h, nil
}

// Handle returns the namespace handle (an open file descriptor, for
// netns.Set and setns(2)); it stays valid until Close.
func (h *Host) Handle() netns.NsHandle { return h.handle }

// Run calls fn on an OS thread that is inside the host's namespace, and
// returns fn's error. Sockets created by fn belong to the host and keep
// working after Run returns. Goroutines started by fn do not inherit the
// namespace. Run fails without calling fn after Close, and when the
// thread cannot enter the namespace (without root / CAP_NET_ADMIN the
// error wraps ErrPrivilege). Several Runs may proceed at once, each on
// its own thread.
func (h *Host) Run(fn func() error) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fmt.Errorf("lab: host %s is closed", h.Name)
	}
	handle := h.handle
	h.mu.Unlock()

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: read current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(handle); err != nil {
		runtime.UnlockOSThread()
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("lab: enter host %s: %w", h.Name, ErrPrivilege)
		}
		return fmt.Errorf("lab: enter host %s: %w", h.Name, err)
	}
	defer func() {
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		} // else: leave the thread locked so the runtime throws it away.
	}()
	return fn()
}

// Start starts cmd inside the host: the child process is forked from a
// thread in the host's namespace and so lives in it. Wait for it with
// cmd.Wait as usual.
func (h *Host) Start(cmd *exec.Cmd) error {
	return h.Run(cmd.Start)
}

// Cmd is an external command that runs inside a host. It embeds
// *exec.Cmd, so Stdin, Stdout, Env, Wait etc. are set and used as usual;
// Start, Run, Output and CombinedOutput place the process in the host.
type Cmd struct {
	*exec.Cmd
	host *Host
}

// Command builds a command that runs inside the host, like
// `ip netns exec NS name args...`.
func (h *Host) Command(name string, args ...string) *Cmd {
	return &Cmd{Cmd: exec.Command(name, args...), host: h}
}

// Start starts the process inside the host.
func (c *Cmd) Start() error { return c.host.Start(c.Cmd) }

// Run starts the process inside the host and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the process inside the host and returns its standard output.
func (c *Cmd) Output() ([]byte, error) {
	var out bytes.Buffer
	c.Stdout = &out
	err := c.Run()
	return out.Bytes(), err
}

// CombinedOutput runs the process inside the host and returns its standard
// output and standard error together.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return out.Bytes(), err
}

// SetSysctl writes a sysctl inside the host; key uses dots or slashes
// ("net.ipv4.tcp_fastopen"). Without root / CAP_NET_ADMIN the error wraps
// ErrPrivilege.
func (h *Host) SetSysctl(key, value string) error {
	return h.Run(func() error { return sysctl.Write(key, value) })
}

// Sysctl reads a sysctl (dotted name) inside the host, without the
// trailing newline.
func (h *Host) Sysctl(key string) (string, error) {
	var v string
	err := h.Run(func() (err error) {
		v, err = sysctl.Read(key)
		return err
	})
	return v, err
}

// Close deletes the namespace (for a host from Attach, it only releases
// the handle). Sockets still open in it keep it alive in the kernel until
// they are closed. Close is idempotent.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.handle.Close()
	if h.borrowed {
		return nil
	}
	if err := deleteNamed(h.NS); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lab: delete namespace %s: %w", h.NS, err)
	}
	return nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
		if b.Len() >= 12 {
			break
		}
	}
	if b.Len() == 0 {
		return "h"
	}
	return b.String()
}
