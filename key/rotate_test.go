package key_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/key"
)

func TestRotationSchedule(t *testing.T) {
	r := key.Rotation{Secret: []byte("0123456789abcdef0123"), Interval: time.Hour}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2031, 5, 6, 7, 0, 0, 0, time.UTC)
	n := r.Number(start)
	if r.Number(start.Add(-time.Nanosecond)) != n-1 || r.Number(start.Add(time.Hour-time.Nanosecond)) != n {
		t.Fatal("interval numbers do not change exactly at the boundary")
	}
	if r.KeyOf(n) == r.KeyOf(n+1) {
		t.Fatal("neighbouring intervals have the same key")
	}
	other := key.Rotation{Secret: []byte("another secret, same length"), Interval: time.Hour}
	if other.KeyOf(n) == r.KeyOf(n) {
		t.Fatal("different secrets give the same key")
	}
	p, b := r.Keys(start.Add(10 * time.Minute))
	if p != r.KeyOf(n) || b != r.KeyOf(n-1) {
		t.Fatal("first half: want [current, previous]")
	}
	p, b = r.Keys(start.Add(40 * time.Minute))
	if p != r.KeyOf(n) || b != r.KeyOf(n+1) {
		t.Fatal("second half: want [current, next]")
	}
	if got := r.NextChange(start.Add(time.Minute)); !got.Equal(start.Add(30 * time.Minute)) {
		t.Fatalf("next change %v, want the middle of the interval", got)
	}
	if got := r.NextChange(start.Add(31 * time.Minute)); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("next change %v, want the end of the interval", got)
	}
	before := time.Unix(-10, 0)
	if r.Number(before) != -1 {
		t.Fatalf("interval of a time before the epoch: %d, want -1", r.Number(before))
	}
	if (key.Rotation{Secret: []byte("short"), Interval: time.Hour}).Validate() == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

func TestRotateLoopInstallsCurrentKeys(t *testing.T) {
	r := key.Rotation{Secret: []byte("0123456789abcdef0123"), Interval: time.Hour}
	now := time.Date(2031, 5, 6, 7, 59, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	var got [][2]fastopen.Key
	err := key.RotateLoop(ctx, r, func() time.Time { return now }, 0, func(p, b fastopen.Key) error {
		got = append(got, [2]fastopen.Key{p, b})
		cancel()
		return nil
	}, nil)
	if err != context.Canceled {
		t.Fatalf("RotateLoop returned %v, want context.Canceled", err)
	}
	p, b := r.Keys(now)
	if len(got) != 1 || got[0] != [2]fastopen.Key{p, b} {
		t.Fatalf("installed %d key pairs, want exactly Keys(now)", len(got))
	}
}

// TestRotateLoopFollowsClockSteps: the wall clock jumps two intervals
// ahead (NTP step, resume from suspend) while the loop waits for the
// middle of the interval; the loop installs the keys of the new time
// within a poll, and does not reinstall keys that have not changed.
func TestRotateLoopFollowsClockSteps(t *testing.T) {
	r := key.Rotation{Secret: []byte("0123456789abcdef0123"), Interval: time.Hour}
	var mu sync.Mutex
	now := time.Date(2031, 5, 6, 7, 1, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	installs := make(chan [2]fastopen.Key, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- key.RotateLoop(ctx, r, clock, 5*time.Millisecond, func(p, b fastopen.Key) error {
			installs <- [2]fastopen.Key{p, b}
			return nil
		}, nil)
	}()
	next := func(what string) [2]fastopen.Key {
		t.Helper()
		select {
		case k := <-installs:
			return k
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: no keys installed", what)
			return [2]fastopen.Key{}
		}
	}
	p, b := r.Keys(now)
	if got := next("start"); got != [2]fastopen.Key{p, b} {
		t.Fatal("first install is not Keys(now)")
	}
	time.Sleep(50 * time.Millisecond) // ten polls, same time
	if len(installs) != 0 {
		t.Fatalf("%d reinstalls of unchanged keys", len(installs))
	}
	mu.Lock()
	now = now.Add(2*time.Hour + 40*time.Minute) // second half, two intervals on
	p, b = r.Keys(now)
	mu.Unlock()
	if got := next("after the clock step"); got != [2]fastopen.Key{p, b} {
		t.Fatal("after the clock step the loop installed other keys than Keys(now)")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("RotateLoop returned %v, want context.Canceled", err)
	}
}

// TestWeakSecretRefused: secrets without enough distinct content (1000
// NULs, 24 × 'a', a two-byte pattern) are refused by LoadSecretFile and
// Validate with the reason; a base64 secret from /dev/urandom passes.
func TestWeakSecretRefused(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]string{
		"1000 NUL bytes": strings.Repeat("\x00", 1000),
		"24 × a":         strings.Repeat("a", 24),
		"ab pattern":     strings.Repeat("ab", 16),
	} {
		path := filepath.Join(dir, "secret")
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := key.LoadSecretFile(path)
		if !errors.Is(err, key.ErrSecretWeak) || !strings.Contains(err.Error(), "different values, want at least") || !strings.Contains(err.Error(), "/dev/urandom") {
			t.Errorf("%s: LoadSecretFile: %v, want ErrSecretWeak naming the rule and the remedy", name, err)
		}
		if err := (key.Rotation{Secret: []byte(s), Interval: time.Hour}).Validate(); !errors.Is(err, key.ErrSecretWeak) {
			t.Errorf("%s: Validate: %v, want ErrSecretWeak", name, err)
		}
	}
	path := filepath.Join(dir, "good")
	os.WriteFile(path, []byte("c2hhcmVkIGJ5IHRoZSB3aG9sZSBmbGVldA==\n"), 0o600)
	if _, err := key.LoadSecretFile(path); err != nil {
		t.Errorf("a base64 secret: %v", err)
	}
}
