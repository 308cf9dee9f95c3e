//go:build !linux

package kernel

import (
	"fmt"

	"github.com/fastopen/fastopen/sysctl"
)

// CurrentNamespace identifies the calling thread's network namespace;
// only Linux has network namespaces.
func CurrentNamespace() (Namespace, error) {
	return Namespace{}, fmt.Errorf("identify network namespace: %w", sysctl.ErrUnsupported)
}
