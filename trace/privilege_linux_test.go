package trace_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/sysctl"
	"github.com/fastopen/fastopen/trace"
)

// TestStartWithoutPrivilege: without CAP_NET_RAW, Start says which
// capability is missing and its error wraps sysctl.ErrPrivilege.
func TestStartWithoutPrivilege(t *testing.T) {
	// In a user namespace the test holds no capability over the host's
	// network namespace.
	if labtest.InUserNamespace(t, 0) {
		_, err := trace.Start(trace.Options{Interface: "lo"})
		if err == nil {
			t.Skip("capture allowed in a user namespace here")
		}
		t.Log(err)
		if !errors.Is(err, sysctl.ErrPrivilege) {
			t.Errorf("error %q does not wrap sysctl.ErrPrivilege", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "CAP_NET_RAW") || strings.Contains(msg, "CAP_NET_ADMIN") {
			t.Errorf("error %q: want it to name CAP_NET_RAW, the capability a packet socket needs, and only it", msg)
		}
	}
}
