package fastopen

import "testing"

func TestKernelVersion(t *testing.T) {
	for _, tc := range []struct {
		release      string
		major, minor int
		ok           bool
	}{
		{"6.18.0", 6, 18, true},
		{"5.4.0-150-generic", 5, 4, true},
		{"5.15.153.1-microsoft-standard-WSL2", 5, 15, true},
		{"4.18.0-553.el8_10.x86_64", 4, 18, true},
		{"6.1+deb12", 6, 1, true},
		{"6", 0, 0, false},
		{"", 0, 0, false},
		{"x.y", 0, 0, false},
	} {
		major, minor, ok := kernelVersion(tc.release)
		if major != tc.major || minor != tc.minor || ok != tc.ok {
			t.Errorf("kernelVersion(%q) = %d, %d, %v; want %d, %d, %v", tc.release, major, minor, ok, tc.major, tc.minor, tc.ok)
		}
	}
}
