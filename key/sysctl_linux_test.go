package key_test

import (
	"testing"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/key"
	"github.com/fastopen/fastopen/sysctl"
)

// TestKeyByteOrder: a key written as text to the sysctl is, byte for byte,
// the Key the socket option reads back (and so what SetListenerKey takes).
func TestKeyByteOrder(t *testing.T) {
	h := labtest.Host(t, "order", 3)
	k, _ := fastopen.ParseKey("00112233-44556677-8899aabb-ccddeeff")
	b, _ := fastopen.NewKey()
	want := fastopen.Key{0x33, 0x22, 0x11, 0x00, 0x77, 0x66, 0x55, 0x44, 0xbb, 0xaa, 0x99, 0x88, 0xff, 0xee, 0xdd, 0xcc}
	if k != want {
		t.Fatalf("ParseKey bytes % x, want % x (little-endian words)", k[:], want[:])
	}
	labtest.Run(t, h, func() error {
		if err := key.SetSysctlKey(k, &b); err != nil {
			return err
		}
		text, err := sysctl.Read(sysctl.FastOpenKey)
		if err != nil {
			return err
		}
		if text != fastopen.FormatKeys(k, &b) {
			t.Errorf("sysctl reads back %d characters differing from what was written", len(text))
		}
		fd, err := sock()
		if err != nil {
			return err
		}
		defer closeFD(fd)
		if keys, err := key.SocketKeys(fd); err != nil || len(keys) != 0 {
			t.Errorf("fresh socket: %d own keys (%v), want none", len(keys), err)
		}
		if err := fastopen.SetListenerKey(uintptr(fd), k, &b); err != nil {
			return err
		}
		keys, err := key.SocketKeys(fd)
		if err != nil {
			return err
		}
		if len(keys) != 2 || keys[0] != k || keys[1] != b {
			t.Errorf("socket option returned %d keys not equal to [primary, backup]", len(keys))
		}
		return nil
	})
}
