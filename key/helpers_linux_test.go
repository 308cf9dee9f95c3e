package key_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

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
// fastopen.SetListenerKey.
func listen(t *testing.T, h *lab.Host, key *fastopen.Key, backup *fastopen.Key) *server {
	t.Helper()
	s := &server{synData: make(chan bool, 16)}
	lc := &net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, 16)
			if serr == nil && key != nil {
				serr = fastopen.SetListenerKey(fd, *key, backup)
			}
		})
		return errors.Join(err, serr)
	}}
	s.ln = labtest.Listen(t, h, lc, "tcp4", fmt.Sprintf(":%d", serverPort)).(*net.TCPListener)
	// Connections come one at a time (request waits for the reply), so
	// the reports arrive in order.
	labtest.Serve(s.ln, func(c net.Conn) {
		info, _ := labtest.TCPInfo(c)
		s.synData <- info != nil && labtest.SYNData(info)
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		c.Write(append([]byte("re:"), buf[:n]...))
	})
	return s
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

// request dials addr from inside h with TCP_FASTOPEN_CONNECT, sends msg
// (in the SYN when a cookie is cached), reads the reply and reports
// whether the server acknowledged the SYN data.
func request(t *testing.T, h *lab.Host, addr netip.Addr, msg string) (synAcked bool) {
	t.Helper()
	c := labtest.Dial(t, h, labtest.RawDialer(5*time.Second), "tcp4", netip.AddrPortFrom(addr, serverPort).String())
	defer c.Close() // at return: each request is a whole connection
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != "re:"+msg {
		t.Fatalf("reply %q, want %q", reply, "re:"+msg)
	}
	info, err := labtest.TCPInfo(c)
	if err != nil {
		t.Fatal(err)
	}
	return labtest.SYNData(info)
}

func sock() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

func closeFD(fd int) { unix.Close(fd) }
