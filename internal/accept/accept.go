// Package accept holds what the project's servers share about accepting
// connections.
package accept

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Retryable reports whether an Accept error is a passing shortage
// (descriptors, buffers, memory) after which accepting can go on, after a
// pause, as net/http's Server does.
func Retryable(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Backoff returns the pause before accepting again after a Retryable
// error, given the previous pause (zero after a success): 5 ms, doubling
// up to one second, as net/http's Server does.
func Backoff(prev time.Duration) time.Duration {
	return min(max(2*prev, 5*time.Millisecond), time.Second)
}

// Limit returns a listener that accepts at most n connections at a time
// from ln: past n, Accept waits until one of them is closed, and
// connections wait in the kernel's accept queue meanwhile. Its
// connections keep what they wrap reachable through NetConn, so
// fastopen.InfoOf and fastopen.Handshake still see a *fastopen.ServerConn
// through them (and through a *tls.Conn around them). n must be positive.
func Limit(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is first closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// NetConn returns the wrapped connection.
func (c *limitConn) NetConn() net.Conn { return c.Conn }
