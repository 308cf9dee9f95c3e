package tcpinfo

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ti, err := Of(c.(*net.TCPConn))
	if err != nil || ti.State != unix.BPF_TCP_ESTABLISHED {
		t.Fatalf("TCP_INFO of an open connection: %+v, %v", ti, err)
	}
	c.Close()
	if _, err := Of(c.(*net.TCPConn)); err == nil {
		t.Fatal("TCP_INFO of a closed connection: no error")
	}
}
