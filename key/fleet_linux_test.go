package key_test

import (
	"errors"
	"os"
	"testing"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/key"
)

// TestFleetSharedKey: server 0 keyed per listener (setsockopt), server 1
// keyed through the sysctl, with the same Key and the same address: a
// cookie from either is accepted by the other. This also proves that
// Key's text form (sysctl) and its bytes (setsockopt) are the same key.
func TestFleetSharedKey(t *testing.T) {
	f := newFleet(t)
	k, _ := fastopen.NewKey()
	s0 := listen(t, f.srv[0], &k, nil)
	labtest.Run(t, f.srv[1], func() error { return key.SetSysctlKey(k, nil) })
	s1 := listen(t, f.srv[1], nil, nil)

	f.use(t, 0)
	if request(t, f.client, serverAddr, "first") {
		t.Fatal("first request had its SYN data acknowledged without a cookie")
	}
	if s0.accepted(t) {
		t.Fatal("server 0 saw SYN data on the cookie-less first connection")
	}
	if !request(t, f.client, serverAddr, "warm") || !s0.accepted(t) {
		t.Fatal("second request to server 0 did not carry accepted SYN data")
	}

	f.use(t, 1)
	before := labtest.Counters(t, f.srv[1])
	if !request(t, f.client, serverAddr, "moved") {
		t.Fatal("server 1 (sysctl key) refused the cookie issued by server 0 (listener key)")
	}
	if !s1.accepted(t) {
		t.Fatal("server 1 did not see the request's bytes in the SYN")
	}
	if d := labtest.Counters(t, f.srv[1]).Sub(before); d["TcpExt.TCPFastOpenPassive"] != 1 || d["TcpExt.TCPFastOpenPassiveFail"] != 0 {
		t.Fatalf("server 1 counters: passive +%d, passive fail +%d; want +1, +0", d["TcpExt.TCPFastOpenPassive"], d["TcpExt.TCPFastOpenPassiveFail"])
	}

	// And back: server 1 issued nothing new (the cookie was valid), so
	// server 0 still accepts the client's cookie.
	f.use(t, 0)
	if !request(t, f.client, serverAddr, "back") || !s0.accepted(t) {
		t.Fatal("server 0 refused the cookie after the client talked to server 1")
	}
}

// TestFleetDifferentKeys: with different keys, server 1 refuses server
// 0's cookie, yet the client gets its reply (fallback to a normal
// handshake) and then holds a cookie valid on server 1.
func TestFleetDifferentKeys(t *testing.T) {
	f := newFleet(t)
	k0, _ := fastopen.NewKey()
	k1, _ := fastopen.NewKey()
	listen(t, f.srv[0], &k0, nil)
	s1 := listen(t, f.srv[1], &k1, nil)

	f.use(t, 0)
	request(t, f.client, serverAddr, "get-cookie")
	f.use(t, 1)
	before := labtest.Counters(t, f.srv[1])
	if request(t, f.client, serverAddr, "refused") { // request checks the reply
		t.Fatal("server 1 accepted SYN data with a cookie made under another key")
	}
	if s1.accepted(t) {
		t.Fatal("server 1 reported SYN data for a refused cookie")
	}
	if d := labtest.Counters(t, f.srv[1]).Sub(before); d["TcpExt.TCPFastOpenPassiveFail"] != 1 {
		t.Fatalf("server 1 TCPFastOpenPassiveFail +%d, want +1", d["TcpExt.TCPFastOpenPassiveFail"])
	}
	if !request(t, f.client, serverAddr, "new-cookie") || !s1.accepted(t) {
		t.Fatal("the cookie server 1 issued on refusal was not accepted")
	}
}

// TestKeyWatcherOnListener: a watcher drives a real listener's key; a bad
// key file leaves the listener on its previous key.
func TestKeyWatcherOnListener(t *testing.T) {
	h := labtest.Host(t, "watch", 3)
	k1, _ := fastopen.NewKey()
	k2, _ := fastopen.NewKey()
	path := t.TempDir() + "/tfo.key"
	if err := key.WriteKeyFile(path, k1, nil); err != nil {
		t.Fatal(err)
	}
	s := listen(t, h, nil, nil)
	rc, err := s.ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	keys := func() []fastopen.Key {
		var ks []fastopen.Key
		var kerr error
		rc.Control(func(fd uintptr) { ks, kerr = key.SocketKeys(int(fd)) })
		if kerr != nil {
			t.Fatal(kerr)
		}
		return ks
	}
	w := &key.KeyWatcher{Path: path, Install: func(p fastopen.Key, b *fastopen.Key) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = fastopen.SetListenerKey(fd, p, b) })
		return serr
	}}
	if err := w.Load(); err != nil {
		t.Fatal(err)
	}
	if ks := keys(); len(ks) != 1 || ks[0] != k1 {
		t.Fatal("listener does not hold the file's key")
	}
	if err := writeFile(path, "0123"); err != nil {
		t.Fatal(err)
	}
	if err := w.Load(); !errors.Is(err, fastopen.ErrKeyLength) {
		t.Fatalf("bad file: %v, want ErrKeyLength", err)
	}
	if ks := keys(); len(ks) != 1 || ks[0] != k1 {
		t.Fatal("a bad key file changed the listener's key")
	}
	if err := key.WriteKeyFile(path, k2, &k1); err != nil {
		t.Fatal(err)
	}
	if err := w.Load(); err != nil {
		t.Fatal(err)
	}
	if ks := keys(); len(ks) != 2 || ks[0] != k2 || ks[1] != k1 {
		t.Fatal("listener did not take the new primary and backup keys")
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
