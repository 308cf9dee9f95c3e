package relay

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// setNoCookie sets TCP_FASTOPEN_NO_COOKIE on fd. A variable so that
// tests can make it fail as an older kernel does.
var setNoCookie = func(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE, 1)
}

// NoCookie sets TCP_FASTOPEN_NO_COOKIE (Linux 4.15+) on a socket before
// it connects or listens; it fits net.Dialer.Control and
// net.ListenConfig.Control (and so fastopen.Dialer's and
// fastopen.ListenConfig's). On a dialing socket the SYN carries data
// without a cookie, so even the first connection to a server saves the
// round trip; on a listening socket SYN data is accepted without a
// cookie.
//
// Use it only between relays that trust the link between them: the
// cookie is what stops a spoofed SYN flood with data from making the
// server do work (and send answers) for addresses that never asked, and
// a listener with NoCookie accepts such SYNs from anyone who can reach
// it. On kernels without the option (before 4.15, or an MPTCP socket on
// a kernel that does not pass it on) the error wraps
// errors.ErrUnsupported and says so.
func NoCookie(network, address string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setNoCookie(int(fd)) }); err != nil {
		return err
	}
	return noCookieError(serr)
}

// noCookieError explains setNoCookie's error.
func noCookieError(serr error) error {
	switch {
	case serr == nil:
		return nil
	case errors.Is(serr, unix.ENOPROTOOPT), errors.Is(serr, unix.EOPNOTSUPP):
		return fmt.Errorf("relay: trusted-link mode needs TCP_FASTOPEN_NO_COOKIE (Linux 4.15+), which this kernel refused (%v): upgrade the kernel or run without it, which costs the first connection to each server one round trip (cookie request): %w", serr, errors.Join(errors.ErrUnsupported, serr))
	}
	return fmt.Errorf("relay: setsockopt TCP_FASTOPEN_NO_COOKIE: %w", serr)
}

// CheckNoCookie reports whether this kernel accepts NoCookie's option,
// by setting it on a throw-away TCP socket: a client relay checks it at
// start rather than fail every dial. Its error is NoCookie's.
func CheckNoCookie() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("relay: socket: %w", err)
	}
	defer unix.Close(fd)
	return noCookieError(setNoCookie(fd))
}
