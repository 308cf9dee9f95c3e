package kernel

import (
	"fmt"

	"github.com/fastopen/fastopen/sysctl"
)

// Change is the result of ChangeRole; After equals Before when nothing
// had to change.
type Change struct {
	// Namespace is the namespace whose sysctl was changed.
	Namespace Namespace `json:"namespace"`
	// Before and After are net.ipv4.tcp_fastopen around the change.
	Before sysctl.Mode `json:"before"`
	After  sysctl.Mode `json:"after"`
}

// ChangeRole turns a role on (sysctl.Mode.Enable) or off (sysctl.Mode.Disable) in the
// calling thread's network namespace and says which namespace it was. It
// writes nothing when the mode would not change. Without privileges the
// error wraps sysctl.ErrPrivilege and names the namespace; nothing was changed.
func ChangeRole(r sysctl.Role, on bool) (Change, error) {
	var c Change
	ns, err := CurrentNamespace()
	if err != nil {
		return c, err
	}
	c.Namespace = ns
	if c.Before, err = sysctl.FastOpenMode(); err != nil {
		return c, err
	}
	c.After = c.Before.Disable(r)
	if on {
		c.After = c.Before.Enable(r)
	}
	if c.After != c.Before {
		if err := sysctl.SetFastOpenMode(c.After); err != nil {
			return c, fmt.Errorf("%s: %w", ns, err)
		}
	}
	return c, nil
}
