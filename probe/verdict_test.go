package probe

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
)

// Observations of single connections, as the lab shows them.
var (
	plainOK    = Observation{HandshakeRTT: 20 * time.Millisecond}
	coldCookie = Observation{FastOpen: true, Reason: fastopen.ReasonNoCookie, HandshakeRTT: 20 * time.Millisecond, CookieAfter: []byte{1}}
	coldNone   = Observation{FastOpen: true, Reason: fastopen.ReasonNoCookie, HandshakeRTT: 20 * time.Millisecond}
	warmOK     = Observation{FastOpen: true, HadCookie: true, SentInSYN: true, SYNData: true, CookieSent: []byte{1}, CookieAfter: []byte{1}}
	warmDrop   = Observation{FastOpen: true, HadCookie: true, SentInSYN: true, Reason: fastopen.ReasonSYNRetransmitted, CookieSent: []byte{1}, CookieAfter: []byte{1}}
	warmNotAck = Observation{FastOpen: true, HadCookie: true, SentInSYN: true, Reason: fastopen.ReasonDataNotAcked, CookieSent: []byte{1}, CookieAfter: []byte{1}}
	warmNewKey = Observation{FastOpen: true, HadCookie: true, SentInSYN: true, Reason: fastopen.ReasonDataNotAcked, CookieSent: []byte{1}, CookieAfter: []byte{2}}
	reqLostFar = Observation{FastOpen: true, Reason: fastopen.ReasonNoCookie, SYNRetransmitted: true, HandshakeRTT: 1020 * time.Millisecond}
	reqLostFix = Observation{FastOpen: true, Reason: fastopen.ReasonNoCookie, SYNRetransmitted: true, HandshakeRTT: 20 * time.Millisecond}
	reqLostNoT = Observation{FastOpen: true, Reason: fastopen.ReasonNoCookie, SYNRetransmitted: true}
	paused     = Observation{FastOpen: true, Reason: fastopen.ReasonUnknown}
	failed     = Observation{FastOpen: true, Failed: true}
	plainFail  = Observation{Failed: true}
)

func TestClassify(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		name string
		ev   Evidence
		want Verdict
	}{
		{"works", Evidence{Conns: []Observation{coldCookie, plainOK, warmOK, plainOK, warmOK}}, Works},
		{"works despite one lost SYN", Evidence{Conns: []Observation{coldCookie, plainOK, warmDrop, plainOK, warmOK}}, Works},
		{"no cookie", Evidence{Conns: []Observation{coldNone, plainOK, coldNone}}, NoCookie},
		{"key per connection", Evidence{Conns: []Observation{coldCookie, plainOK, warmNewKey, plainOK, warmNewKey}}, CookieChanges},
		{"data not acked, stable cookie", Evidence{Conns: []Observation{coldCookie, plainOK, warmNotAck, plainOK, warmNotAck}}, DataNotAcked},
		{"SYN data dropped", Evidence{Conns: []Observation{coldCookie, plainOK, warmDrop, plainOK, warmDrop}}, SYNDataDropped},
		{"one SYN data lost is not enough", Evidence{Conns: []Observation{coldCookie, plainOK, warmDrop, plainOK, warmNotAck, warmNotAck}}, DataNotAcked},
		{"SYN-ACK with cookie dropped (RTT sample)", Evidence{Conns: []Observation{reqLostFar, plainOK, reqLostFar}}, SYNACKCookieDropped},
		{"SYN with option dropped (RTT sample)", Evidence{Conns: []Observation{reqLostFix, plainOK, reqLostFix}}, SYNOptionDropped},
		{"cookie request lost, cannot tell", Evidence{Conns: []Observation{reqLostNoT, plainOK, reqLostNoT}}, CookieRequestLost},
		{"capture says answered", Evidence{Conns: []Observation{reqLostNoT, plainOK, reqLostNoT}, Capture: &CaptureEvidence{CookieRequestAnswered: &yes}}, SYNACKCookieDropped},
		{"capture says not answered", Evidence{Conns: []Observation{reqLostNoT, plainOK, reqLostNoT}, Capture: &CaptureEvidence{CookieRequestAnswered: &no}}, SYNOptionDropped},
		{"one lost cookie request is loss", Evidence{Conns: []Observation{reqLostFar, plainOK, coldNone, coldNone}}, NoCookie},
		{"plain SYNs lost too: loss, not a middlebox", Evidence{Conns: []Observation{reqLostFar, Observation{SYNRetransmitted: true}, reqLostFar}}, NoCookie},
		{"option blanked", Evidence{Conns: []Observation{coldNone, plainOK, coldNone}, Capture: &CaptureEvidence{OptionBlanked: true}}, OptionStripped},
		{"blackhole pause", Evidence{Conns: []Observation{paused, plainOK, paused}}, BlackholePause},
		// Linux before 5.5 records no reason: the time and the cookie tell.
		{"old kernel: SYN data dropped", Evidence{Conns: []Observation{coldCookie, plainOK, oldKernel(warmDrop, true), plainOK, oldKernel(warmDrop, true)}}, SYNDataDropped},
		{"old kernel: key per connection", Evidence{Conns: []Observation{coldCookie, plainOK, oldKernel(warmNewKey, false), plainOK, oldKernel(warmNewKey, false)}}, CookieChanges},
		{"old kernel: data not acked", Evidence{Conns: []Observation{coldCookie, plainOK, oldKernel(warmNotAck, false), plainOK, oldKernel(warmNotAck, false)}}, DataNotAcked},
		{"client off", Evidence{ClientOff: true}, ClientOff},
		{"kernel off on the socket", Evidence{Conns: []Observation{{FastOpen: true, Reason: fastopen.ReasonKernelOff}}}, ClientOff},
		{"TFO blackholed", Evidence{Conns: []Observation{failed, plainOK, failed}}, TFOBlackholed},
		{"unreachable", Evidence{Conns: []Observation{failed, plainFail}}, Unreachable},
		{"nothing", Evidence{}, Unreachable},
	} {
		if got := Classify(c.ev); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// oldKernel is o as a kernel before 5.5 reports it: no reason.
func oldKernel(o Observation, slow bool) Observation {
	o.Reason, o.Slow = fastopen.ReasonUnknown, slow
	return o
}

func TestVerdictWords(t *testing.T) {
	for _, v := range Verdicts() {
		if v.Describe() == string(v) || v.Advice() == "" {
			t.Errorf("%s has no words", v)
		}
	}
}

func TestOverall(t *testing.T) {
	for _, c := range []struct {
		in   []Verdict
		want Verdict
	}{
		{[]Verdict{Works, Works}, Works},
		{[]Verdict{Works, NoCookie}, NoCookie},
		{[]Verdict{NoCookie, SYNDataDropped}, SYNDataDropped},
		{[]Verdict{Unreachable, Works}, Unreachable},
		{[]Verdict{SYNDataDropped, ClientOff}, ClientOff},
		{nil, Unreachable},
	} {
		if got := Overall(c.in); got != c.want {
			t.Errorf("Overall(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestSplitTarget(t *testing.T) {
	for _, ok := range []string{"example.com:443", "[2001:db8::1]:53", "10.0.0.1:80", "a_b.example.:8080"} {
		if _, _, err := SplitTarget(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "example.com", "example.com:0", "example.com:70000", "exa mple.com:80", ":80", "a..b:80", strings.Repeat("a", 254) + ":80", "x:http"} {
		if _, _, err := SplitTarget(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDNSQuery(t *testing.T) {
	for _, host := range []string{"probe.test", "192.0.2.1", "2001:db8::1"} {
		q, id, err := dnsQuery(host)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if n := int(q[0])<<8 | int(q[1]); n != len(q)-2 || id == 0 && n < 12 {
			t.Errorf("%s: length prefix %d for %d bytes", host, n, len(q)-2)
		}
	}
}

// TestHandlerRejects: bad requests are refused before anything is probed.
func TestHandlerRejects(t *testing.T) {
	h := NewHandler(Prober{Run: func(func() error) error {
		t.Error("a bad request was probed")
		return nil
	}}, 1, time.Second)
	for _, q := range []string{"", "target=nohost", "target=a:1&as=smtp", "target=a:1&count=0", "target=a:1&count=21", "target=a:1&timeout=5s", "target=a:1&timeout=x", "target=a:1&count=1&count=2", "target=a:1&target=b:1"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/probe?"+q, nil))
		if w.Code != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", q, w.Code)
		}
	}
}
