package bench

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	d, err := ParseDurations("10ms, 50ms,100ms")
	if err != nil || !slices.Equal(d, []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}) {
		t.Errorf("ParseDurations = %v, %v", d, err)
	}
	s, err := ParseSizes("6,1400B,2k,16KiB")
	if err != nil || !slices.Equal(s, []int{6, 1400, 2048, 16384}) {
		t.Errorf("ParseSizes = %v, %v", s, err)
	}
	l, err := ParseLosses("0,0.01,5%")
	if err != nil || !slices.Equal(l, []float64{0, 0.01, 0.05}) {
		t.Errorf("ParseLosses = %v, %v", l, err)
	}
	for _, bad := range []func() error{
		func() error { _, err := ParseDurations("10"); return err },
		func() error { _, err := ParseDurations("-5ms"); return err },
		func() error { _, err := ParseSizes("0"); return err },
		func() error { _, err := ParseSizes("2MiB"); return err },
		func() error { _, err := ParseLosses("1"); return err },
		func() error { _, err := ParseLosses("x%"); return err },
		// NaN passes "< 0" and ">= 1" alike; it used to run the whole
		// bench and then fail to print the JSON.
		func() error { _, err := ParseLosses("NaN"); return err },
		func() error { _, err := ParseLosses("nan%"); return err },
		func() error { _, err := ParseDurations("11s"); return err },
		func() error { _, err := ParseDurations("1h"); return err },
	} {
		if bad() == nil {
			t.Error("bad input accepted")
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Clients: []string{"telnet"}},
		{Server: "apache"},
		{Losses: []float64{1.5}},
		{Sizes: []int{0}},
		{Runs: -1},
		{Losses: []float64{math.NaN()}},
		{RTTs: []time.Duration{MaxRTT + time.Millisecond}},
	} {
		if _, err := cfg.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: error %v, want ErrConfig", cfg, err)
		}
	}
	// A long RTT gets a timeout that leaves room for the two round trips
	// of plain TCP, so its runs do not all fail.
	cfg := Config{RTTs: []time.Duration{50 * time.Millisecond, 6 * time.Second}}
	if _, err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout < 3*6*time.Second {
		t.Errorf("timeout %v at RTT 6s, want at least 3 RTTs", cfg.Timeout)
	}
	// A missing peer program is not a configuration mistake: it says how
	// to install it.
	t.Setenv("PATH", t.TempDir())
	for _, cfg := range []Config{{Clients: []string{ClientCurl}}, {Server: ServerNginx}} {
		_, err := cfg.validate()
		if !errors.Is(err, ErrMissingTool) || errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "apt-get install") {
			t.Errorf("%+v without curl or nginx: %v, want ErrMissingTool (not ErrConfig) saying how to install it", cfg, err)
		}
	}
}

func TestStats(t *testing.T) {
	p := Point{RTTMS: 10, SamplesMS: []float64{14, 10, 12, 11, 13}, SYNDataRatio: 4}
	p.summarize()
	if p.Runs != 5 || p.MedianMS != 12 || p.MinMS != 10 || p.MaxMS != 14 || p.MedianRTTs != 1.2 || p.SYNDataRatio != 0.8 {
		t.Errorf("summary %+v", p)
	}
	if p.P10MS != 10.4 || p.P90MS != 13.6 {
		t.Errorf("p10 %v p90 %v, want 10.4 and 13.6", p.P10MS, p.P90MS)
	}
	pts := []Point{{Client: ClientLazy, TFO: true, Runs: 1, MedianMS: 10, RTTMS: 10}, {Client: ClientPlain, Runs: 1, MedianMS: 20, RTTMS: 10}}
	computeSavings(pts)
	if pts[0].SavingMS != 10 || pts[0].SavingRTTs != 1 || pts[0].Baseline != ClientPlain {
		t.Errorf("saving %+v", pts[0])
	}
}

func TestHTTPRequest(t *testing.T) {
	for _, size := range []int{6, 100, 1400, 5000, 16384} {
		b := httpRequest(netipMust("10.0.0.1:80"), size)
		if n := len(b); n < max(size, minHTTPRequest) || n > max(size, minHTTPRequest)+8 {
			t.Errorf("size %d: request of %d bytes", size, n)
		}
	}
}

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
