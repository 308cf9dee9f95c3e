package key

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/crypto/hkdf"
)

// MinSecretSize is the shortest shared rotation secret accepted.
const MinSecretSize = 16

// MinSecretDistinct is the fewest different byte values a rotation
// secret must hold. It refuses what is plainly not random (a run of one
// byte, 1000 NULs, "abababab...") and a secret a person typed by hand
// rarely reaches it either, while any random secret passes: 16 random
// bytes in hex show about 14 of the 16 hex digits, 32 random bytes in
// base64 about 30 of 64 characters. It is a floor, not a measure of
// strength; make secrets from /dev/urandom.
const MinSecretDistinct = 10

// ErrSecretWeak is wrapped by Rotation.Validate and LoadSecretFile when
// a secret is too short or has too few different bytes
// (MinSecretSize, MinSecretDistinct).
var ErrSecretWeak = errors.New("rotation secret is too weak")

// rotationInfo is the HKDF "info" label; changing it changes every key.
const rotationInfo = "fastopen tfo cookie key v1"

// Rotation derives the TFO key of each time interval from a secret shared
// by a fleet, so servers with the same secret and synchronised clocks hold
// compatible keys without talking to each other.
//
// Interval n covers [n*Interval, (n+1)*Interval) since the Unix epoch and
// its key is HKDF-SHA256(secret, info = label || n as 8 big-endian
// bytes). A server always signs new cookies with the key of the current
// interval n and also accepts one neighbour as backup: the previous key
// K(n-1) in the first half of the interval, so cookies issued just before
// the boundary stay valid after it, and the next key K(n+1) in the second
// half, so cookies from servers whose clocks already crossed the next
// boundary are accepted too. A cookie thus stays valid for at least half
// an interval, and for up to 1.5 intervals.
type Rotation struct {
	// Secret is the fleet's shared secret (at least MinSecretSize bytes).
	Secret []byte
	// Interval is the lifetime of one key; a day is a sensible choice.
	Interval time.Duration
}

// Validate checks the secret (at least MinSecretSize bytes, of which at
// least MinSecretDistinct different values; errors wrap ErrSecretWeak)
// and the interval (at least 2s); its errors say how to make a good
// secret and never show it.
func (r Rotation) Validate() error {
	if err := checkSecret(r.Secret); err != nil {
		return fmt.Errorf("%w: make one with: head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE", err)
	}
	if r.Interval < 2*time.Second {
		return fmt.Errorf("rotation interval %v is too short: use at least 2s (a day is typical)", r.Interval)
	}
	return nil
}

// Number returns the number of the interval containing t.
func (r Rotation) Number(t time.Time) int64 {
	ns := t.UnixNano()
	iv := r.Interval.Nanoseconds()
	n := ns / iv
	if ns%iv < 0 {
		n-- // floor for times before the epoch
	}
	return n
}

// KeyOf derives the key of interval n.
func (r Rotation) KeyOf(n int64) fastopen.Key {
	info := make([]byte, len(rotationInfo)+8)
	copy(info, rotationInfo)
	binary.BigEndian.PutUint64(info[len(rotationInfo):], uint64(n))
	var k fastopen.Key
	// HKDF-SHA256 yields up to 255*32 bytes, so reading 16 cannot fail.
	_, _ = io.ReadFull(hkdf.New(sha256.New, r.Secret, nil, info), k[:])
	return k
}

// Keys returns the keys to install at time t: the current interval's key
// as primary and, as backup, the previous one in the first half of the
// interval and the next one in the second half.
func (r Rotation) Keys(t time.Time) (primary, backup fastopen.Key) {
	n := r.Number(t)
	start := time.Unix(0, n*r.Interval.Nanoseconds())
	if t.Sub(start) < r.Interval/2 {
		return r.KeyOf(n), r.KeyOf(n - 1)
	}
	return r.KeyOf(n), r.KeyOf(n + 1)
}

// NextChange returns the first time after t at which Keys changes: the
// middle or the end of t's interval.
func (r Rotation) NextChange(t time.Time) time.Time {
	n := r.Number(t)
	start := time.Unix(0, n*r.Interval.Nanoseconds())
	if mid := start.Add(r.Interval / 2); t.Before(mid) {
		return mid
	}
	return start.Add(r.Interval)
}

// LoadSecretFile reads a rotation secret: the file's bytes with
// surrounding white space removed. Like a key file it must exist, not be
// world-readable and not be empty; it must hold at least MinSecretSize
// bytes with at least MinSecretDistinct different values (else an error
// wrapping ErrSecretWeak). Its errors say how to make a good secret; a missing, empty or
// world-readable file, a file larger than MaxKeyFileSize, or a path that
// is not a regular file, gives the same errors as LoadKeyFile
// (ErrKeyFileMissing, ErrKeyFileEmpty, ErrKeyFilePermissions,
// ErrKeyFileTooLarge, ErrKeyFileNotRegular).
func LoadSecretFile(path string) ([]byte, error) {
	data, err := readSecret(path, "secret file", "head -c 32 /dev/urandom | base64 > "+path)
	if err != nil {
		return nil, err
	}
	s, err := parseSecret(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: make a new one: head -c 32 /dev/urandom | base64 > %s", path, err, path)
	}
	return s, nil
}

// parseSecret is LoadSecretFile's check of the file's content.
func parseSecret(data []byte) ([]byte, error) {
	s := bytes.TrimSpace(data)
	if len(s) == 0 {
		return nil, fmt.Errorf("secret file %w", ErrKeyFileEmpty)
	}
	if err := checkSecret(s); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSecret applies MinSecretSize and MinSecretDistinct.
func checkSecret(s []byte) error {
	if len(s) < MinSecretSize {
		return fmt.Errorf("%w: it has %d bytes, want at least %d", ErrSecretWeak, len(s), MinSecretSize)
	}
	var seen [256]bool
	distinct := 0
	for _, b := range s {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < MinSecretDistinct {
		return fmt.Errorf("%w: its %d bytes take only %d different values, want at least %d (a random secret has many more; this one looks like a placeholder or a repeated pattern)", ErrSecretWeak, len(s), distinct, MinSecretDistinct)
	}
	return nil
}

// RotateLoop installs r.Keys(now()) with install, then again whenever
// they change, until ctx ends. It reads the clock at least every poll (a
// minute when zero) instead of sleeping until the next change: Go's
// timers follow the monotonic clock, so a single long sleep would miss a
// wall clock stepped by NTP and the time a machine spent suspended, and
// leave the server on stale keys while the rest of the fleet has moved
// on. Keys are installed only when they differ from the last ones
// installed; a failed install is passed to onErr (if set) and retried at
// the next poll. now is the clock (time.Now in production, a fake one in
// tests). It returns ctx's error when ctx ends, r.Validate's error at
// once for a bad r, and the install's error when it wraps sysctl.ErrPrivilege
// (retrying cannot help).
func RotateLoop(ctx context.Context, r Rotation, now func() time.Time, poll time.Duration, install func(primary, backup fastopen.Key) error, onErr func(error)) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if poll <= 0 {
		poll = time.Minute
	}
	var last [2]fastopen.Key
	installed := false
	for {
		t := now()
		p, b := r.Keys(t)
		if !installed || last != [2]fastopen.Key{p, b} {
			if err := install(p, b); err != nil {
				if onErr != nil {
					onErr(err)
				}
				if errors.Is(err, sysctl.ErrPrivilege) {
					return err
				}
				installed = false
			} else {
				last, installed = [2]fastopen.Key{p, b}, true
			}
		}
		wait := min(r.NextChange(t).Sub(t), poll)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}
