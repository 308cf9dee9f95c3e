package key_test

import (
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/key"
)

// TestRotationAcrossBoundary runs the fleet across a key boundary with a
// fake clock: server 0 is keyed as at one second before the boundary,
// server 1 (same secret, same address) as at one second after. The cookie
// from server 0 stays valid on server 1 (through its backup key), server 1
// hands out a cookie for its new primary key, and two intervals later the
// old cookie has expired.
func TestRotationAcrossBoundary(t *testing.T) {
	r := key.Rotation{Secret: []byte("a fleet secret of enough bytes"), Interval: 24 * time.Hour}
	boundary := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	keysAt := func(at time.Time) (fastopen.Key, *fastopen.Key) {
		p, b := r.Keys(at)
		return p, &b
	}
	f := newFleet(t)
	p0, b0 := keysAt(boundary.Add(-time.Second))
	p1, b1 := keysAt(boundary.Add(time.Second))
	s0 := listen(t, f.srv[0], &p0, b0)
	s1 := listen(t, f.srv[1], &p1, b1)

	f.use(t, 0)
	request(t, f.client, serverAddr, "cookie")
	s0.accepted(t)
	if !request(t, f.client, serverAddr, "before") || !s0.accepted(t) {
		t.Fatal("server 0 refused its own cookie")
	}

	f.use(t, 1)
	before := labtest.Counters(t, f.srv[1])
	if !request(t, f.client, serverAddr, "after") || !s1.accepted(t) {
		t.Fatal("a cookie issued just before the boundary was refused just after it on another server")
	}
	if d := labtest.Counters(t, f.srv[1]).Sub(before); d["TcpExt.TCPFastOpenPassiveAltKey"] != 1 {
		t.Fatalf("server 1 TCPFastOpenPassiveAltKey +%d, want +1 (old cookie accepted by the backup key)", d["TcpExt.TCPFastOpenPassiveAltKey"])
	}
	before = labtest.Counters(t, f.srv[1])
	if !request(t, f.client, serverAddr, "renewed") || !s1.accepted(t) {
		t.Fatal("server 1 refused the cookie it re-issued under its primary key")
	}
	if d := labtest.Counters(t, f.srv[1]).Sub(before); d["TcpExt.TCPFastOpenPassiveAltKey"] != 0 || d["TcpExt.TCPFastOpenPassive"] != 1 {
		t.Fatalf("renewed cookie: alt key +%d, passive +%d; want +0, +1", d["TcpExt.TCPFastOpenPassiveAltKey"], d["TcpExt.TCPFastOpenPassive"])
	}

	// Two intervals on, server 0 holds neither key the client's cookie was
	// made with: refused, and the request is still answered.
	late, lateBackup := keysAt(boundary.Add(36*time.Hour + time.Second))
	if err := setKey(s0, late, lateBackup); err != nil {
		t.Fatal(err)
	}
	f.use(t, 0)
	if request(t, f.client, serverAddr, "expired") {
		t.Fatal("a cookie two intervals old was accepted")
	}
	s0.accepted(t)
}

func setKey(s *server, p fastopen.Key, b *fastopen.Key) error {
	rc, err := s.ln.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = fastopen.SetListenerKey(fd, p, b) }); err != nil {
		return err
	}
	return serr
}
