package bench

import (
	"errors"
	"net/netip"
	"os/exec"
	"time"

	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/lab"
)

// env is where a demo or bench runs: either a two-host lab, or the
// loopback of one network namespace (the caller's, or a lab.Host's).
type env struct {
	lab        *lab.Lab
	clientHost *lab.Host // nil: the caller's namespace
	serverHost *lab.Host
	serverIP   netip.Addr
	iface      string // capture interface on the client side
}

// newLabEnv builds a two-host lab.
func newLabEnv(cfg lab.Config) (*env, error) {
	l, err := lab.New(cfg)
	if err != nil {
		if errors.Is(err, lab.ErrPrivilege) {
			return nil, &needRootError{err}
		}
		return nil, err
	}
	return &env{lab: l, clientHost: l.Client, serverHost: l.Server, serverIP: l.ServerAddr(false), iface: lab.TunName}, nil
}

// newLoopbackEnv runs everything on the loopback of h's namespace, or of
// the caller's when h is nil.
func newLoopbackEnv(h *lab.Host) *env {
	return &env{clientHost: h, serverHost: h, serverIP: netip.MustParseAddr("127.0.0.1"), iface: "lo"}
}

// ErrNeedRoot is wrapped by errors from RunDemo and Run when building the
// lab needs privileges the process lacks. Such errors also match
// lab.ErrPrivilege.
var ErrNeedRoot = errors.New("the two-host lab needs root / CAP_NET_ADMIN (network namespaces and TUN devices)")

// needRootError is a lab error caused by missing privileges. Its text is
// ErrNeedRoot's alone: the lab's own message would only say the same
// again about one namespace.
type needRootError struct{ err error }

func (e *needRootError) Error() string   { return ErrNeedRoot.Error() }
func (e *needRootError) Unwrap() []error { return []error{ErrNeedRoot, e.err} }

func (e *env) close() error {
	if e.lab != nil {
		return e.lab.Close()
	}
	return nil
}

func runIn(h *lab.Host, fn func() error) error {
	if h == nil {
		return fn()
	}
	return h.Run(fn)
}

// client runs fn in the client's namespace.
func (e *env) client(fn func() error) error { return runIn(e.clientHost, fn) }

// server runs fn in the server's namespace.
func (e *env) server(fn func() error) error { return runIn(e.serverHost, fn) }

// proc is a process that starts in a chosen namespace.
type proc interface {
	Start() error
	Output() ([]byte, error)
}

// command builds a process that runs in h's namespace (or the caller's);
// the *exec.Cmd is for setting Stderr, Dir and such.
func command(h *lab.Host, name string, args ...string) (proc, *exec.Cmd) {
	if h == nil {
		c := exec.Command(name, args...)
		return c, c
	}
	c := h.Command(name, args...)
	return c, c.Cmd
}

// flushCookies forgets the client's TFO cookie for the server, so the next
// connection is a first contact. It reports whether the cache is known to
// be empty.
func (e *env) flushCookies() bool {
	ok := false
	e.client(func() error {
		err := cookie.Flush(e.serverIP)
		ok = err == nil || errors.Is(err, cookie.ErrNoCookie)
		return nil
	})
	return ok
}

// lateness is the lab link's 99th percentile of packet lateness (the
// worse direction), for notes on its timing accuracy.
func (e *env) lateness() time.Duration {
	if e.lab == nil {
		return 0
	}
	s := e.lab.Stats()
	return max(s.Up.Lateness.P99, s.Down.Lateness.P99)
}
