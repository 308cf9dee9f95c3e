package bench

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fastopen/fastopen/lab"
)

// curlTiming is what curl reports about one transfer (its -w variables).
type curlTiming struct {
	// FirstByte is curl's time_starttransfer: until the reply's first byte.
	FirstByte time.Duration
	// Total is curl's time_total: until the transfer ended.
	Total time.Duration
}

// curlArgs builds the arguments of one curl request to addr. pad, when
// positive, adds an X-Pad header so that the request grows by about that
// many bytes.
func curlArgs(addr netip.AddrPort, tfo bool, pad int, timeout time.Duration) []string {
	args := append(curlTimingArgs(timeout), "--http0.9")
	if tfo {
		args = append(args, "--tcp-fastopen")
	}
	if pad > 0 {
		args = append(args, "-H", "X-Pad: "+strings.Repeat("x", pad))
	}
	return append(args, "http://"+addr.String()+"/")
}

// curlTimingArgs are the arguments every timed curl request starts with:
// quiet, body discarded, bounded by timeout, its timing printed as
// runCurlArgs reads it.
func curlTimingArgs(timeout time.Duration) []string {
	return []string{"-sS", "-o", "/dev/null",
		"--max-time", strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64),
		"-w", "%{time_starttransfer} %{time_total}"}
}

// runCurl runs curl in h's namespace (the caller's when h is nil) and
// returns its timing.
func runCurl(ctx context.Context, h *lab.Host, curl string, addr netip.AddrPort, tfo bool, pad int, timeout time.Duration) (curlTiming, error) {
	return runCurlArgs(ctx, h, curl, addr.String(), curlArgs(addr, tfo, pad, timeout))
}

// runCurlArgs runs curl with args (starting with curlTimingArgs) in h's
// namespace and returns its timing; what names the target in errors.
func runCurlArgs(ctx context.Context, h *lab.Host, curl, what string, args []string) (curlTiming, error) {
	var t curlTiming
	if err := ctx.Err(); err != nil {
		return t, err
	}
	p, cmd := command(h, curl, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := p.Output()
	if err != nil {
		return t, fmt.Errorf("curl %s: %w: %s", what, err, strings.TrimSpace(stderr.String()))
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return t, fmt.Errorf("curl printed %q, want two times", out)
	}
	first, err1 := strconv.ParseFloat(f[0], 64)
	total, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return t, fmt.Errorf("curl printed %q, want two times in seconds", out)
	}
	t.FirstByte = time.Duration(first * float64(time.Second))
	t.Total = time.Duration(total * float64(time.Second))
	return t, nil
}
