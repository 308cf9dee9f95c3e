//go:build !unix

package lab

// ownerAlive is always true where lab namespaces cannot exist, so nothing
// is ever removed.
func ownerAlive(string) bool { return true }

// pidAlive cannot check processes here; it reports false.
func pidAlive(int) bool { return false }

// ownerPID cannot be known here.
func ownerPID(string) int { return 0 }

// procStart is not known here.
func procStart(int) (uint64, bool) { return 0, false }
