//go:build !linux

package bench

import "errors"

var errNoAffinity = errors.New("CPU affinity is not supported on this platform")

// pin is not available here: threads run where the scheduler puts them.
func pin(int) (func(), error) { return nil, errNoAffinity }
