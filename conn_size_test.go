package fastopen

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps a Conn within one 64-byte allocation: it is made for
// every dial, and what only some connections need lives in connExt.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 64 {
		t.Fatalf("Conn is %d bytes, want at most 64 (move what few connections need to connExt)", n)
	}
	// A connection that sets a deadline makes a connExt too: together
	// they stay below the single object they replaced (208 bytes).
	if n := unsafe.Sizeof(connExt{}); n > 96 {
		t.Fatalf("connExt is %d bytes, want at most 96", n)
	}
}
