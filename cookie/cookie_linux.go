package cookie

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/fastopen/fastopen/internal/tcpmetrics"
	"github.com/fastopen/fastopen/sysctl"
)

// List lists the TFO cookies the kernel holds for servers (the TCP
// metrics cache, as `ip tcp_metrics show` does), in the calling thread's
// network namespace. Entries without a cookie are left out; none is an
// empty list, not an error. Listing needs no privileges.
func List() ([]Cookie, error) {
	es, err := tcpmetrics.Dump()
	if err != nil {
		return nil, err
	}
	var out []Cookie
	for _, e := range es {
		if len(e.Cookie) == 0 {
			continue
		}
		c := Cookie{Dest: e.Dest, Source: e.Source, Cookie: e.Cookie, MSS: e.MSS, SYNDrops: e.SYNDrops, Age: e.Age}
		c.fill()
		out = append(out, c)
	}
	return out, nil
}

// Flush makes the kernel forget its cached metrics — TFO cookie,
// remembered MSS, RTT estimates — for dest, or for every destination when
// dest is the zero Addr, in the calling thread's namespace. The next
// connection to a flushed server starts cold: it asks for a cookie and
// sends no data in the SYN. It needs root / CAP_NET_ADMIN: without, the
// error wraps sysctl.ErrPrivilege. When the kernel holds nothing for dest the
// error wraps ErrNoCookie.
func Flush(dest netip.Addr) error {
	err := tcpmetrics.Delete(dest)
	what := "all destinations"
	if dest.IsValid() {
		what = dest.Unmap().String()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("flush TCP metrics of %s: %w", what, sysctl.ErrPrivilege)
	case errors.Is(err, tcpmetrics.ErrNotFound):
		return fmt.Errorf("flush TCP metrics of %s: %w", what, ErrNoCookie)
	}
	return err
}
