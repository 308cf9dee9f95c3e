package lab

import (
	"errors"
	"fmt"
	"os"

	"github.com/vishvananda/netns"
)

// Attach opens an existing namespace (by its name under /var/run/netns)
// as a Host named label, e.g. a host of a lab started by another process.
// Closing the returned Host releases it without deleting the namespace. A
// missing namespace gives an error matching fs.ErrNotExist; one that
// cannot be opened for lack of privileges, one wrapping ErrPrivilege.
func Attach(label, ns string) (*Host, error) {
	handle, err := netns.GetFromName(ns)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("lab: namespace %s: %w (is the lab still up? see `%s`)", ns, os.ErrNotExist, Command("status"))
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("lab: open namespace %s: %w", ns, ErrPrivilege)
		}
		return nil, fmt.Errorf("lab: open namespace %s: %w", ns, err)
	}
	return &Host{Name: label, NS: ns, handle: handle, borrowed: true}, nil
}
