package kernel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/lab"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tcpiOptSynData is TCPI_OPT_SYN_DATA from linux/tcp.h: in tcpi_options,
// the SYN's data was acknowledged (client) or accepted (server).
const tcpiOptSynData = 32

// serverAddr is the address every fleet server has on its own link.
var serverAddr = netip.MustParseAddr("10.201.0.1")

const serverPort = 7001

// fleet is one client namespace and two server namespaces that both have
// serverAddr, each on its own veth to the client; only one link is up at
// a time, so the client reaches "the server" at one address either way.
type fleet struct {
	client *lab.Host
	srv    [2]*lab.Host
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{client: labtest.Host(t, "client", 1)}
	for i := range f.srv {
		h := labtest.Host(t, fmt.Sprintf("srv%d", i), 3)
		f.srv[i] = h
		link := fmt.Sprintf("to%d", i)
		labtest.Run(t, f.client, func() error {
			veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: link}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(h.Handle()))}
			if err := netlink.LinkAdd(veth); err != nil {
				return fmt.Errorf("add veth: %w", err)
			}
			l, err := netlink.LinkByName(link)
			if err != nil {
				return err
			}
			return netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 201, 0, 2), Mask: net.CIDRMask(24, 32)}})
		})
		labtest.Run(t, h, func() error {
			l, err := netlink.LinkByName("eth0")
			if err != nil {
				return err
			}
			if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: serverAddr.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
				return err
			}
			return netlink.LinkSetUp(l)
		})
	}
	return f
}

// use brings up the client's link to server i and takes the other down.
func (f *fleet) use(t *testing.T, i int) {
	t.Helper()
	labtest.Run(t, f.client, func() error {
		other, err := netlink.LinkByName(fmt.Sprintf("to%d", 1-i))
		if err != nil {
			return err
		}
		if err := netlink.LinkSetDown(other); err != nil {
			return err
		}
		l, err := netlink.LinkByName(fmt.Sprintf("to%d", i))
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
}

// server is an echo-style TFO listener that records, per connection,
// whether its first bytes arrived in the SYN.
type server struct {
	ln      *net.TCPListener
	synData chan bool
}

// listen starts a TFO server inside h; keyed sets its own key with
// kernel.SetListenerKey.
func listen(t *testing.T, h *lab.Host, key *kernel.Key, backup *kernel.Key) *server {
	t.Helper()
	s := &server{synData: make(chan bool, 16)}
	labtest.Run(t, h, func() error {
		lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, 16)
				if serr == nil && key != nil {
					serr = kernel.SetListenerKey(fd, *key, backup)
				}
			})
			return errors.Join(err, serr)
		}}
		ln, err := lc.Listen(context.Background(), "tcp4", fmt.Sprintf(":%d", serverPort))
		if err != nil {
			return err
		}
		s.ln = ln.(*net.TCPListener)
		return nil
	})
	t.Cleanup(func() { s.ln.Close() })
	go s.serve()
	return s
}

func (s *server) serve() {
	for {
		c, err := s.ln.AcceptTCP()
		if err != nil {
			return
		}
		info, _ := tcpInfo(c)
		s.synData <- info != nil && info.Options&tcpiOptSynData != 0
		go func() {
			defer c.Close()
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(append([]byte("re:"), buf[:n]...))
		}()
	}
}

// accepted returns whether the next accepted connection had SYN data.
func (s *server) accepted(t *testing.T) bool {
	t.Helper()
	select {
	case v := <-s.synData:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("server accepted no connection")
		return false
	}
}

func tcpInfo(c *net.TCPConn) (*unix.TCPInfo, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return nil, err
	}
	return info, ierr
}

// request dials addr from inside h with TCP_FASTOPEN_CONNECT, sends msg
// (in the SYN when a cookie is cached), reads the reply and reports
// whether the server acknowledged the SYN data.
func request(t *testing.T, h *lab.Host, addr netip.Addr, msg string) (synAcked bool) {
	t.Helper()
	labtest.Run(t, h, func() error {
		d := net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1)
			})
			return errors.Join(err, serr)
		}}
		c, err := d.Dial("tcp4", netip.AddrPortFrom(addr, serverPort).String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		reply, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if string(reply) != "re:"+msg {
			return fmt.Errorf("reply %q, want %q", reply, "re:"+msg)
		}
		info, err := tcpInfo(c.(*net.TCPConn))
		if err != nil {
			return err
		}
		synAcked = info.Options&tcpiOptSynData != 0
		return nil
	})
	return synAcked
}

// counters reads the TFO counters inside h.
func counters(t *testing.T, h *lab.Host) kernel.Counters {
	t.Helper()
	var c kernel.Counters
	labtest.Run(t, h, func() (err error) {
		c, err = kernel.ReadCounters()
		return err
	})
	return c
}

func sock() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

func closeFD(fd int) { unix.Close(fd) }
