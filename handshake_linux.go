package fastopen

import (
	"context"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitHandshake waits until tc's handshake is over and returns its error
// (as connectError reports it), honouring ctx and deadline (zero: none).
// It never touches tc's deadlines, which belong to the caller's Reads
// and Writes: it waits in the netpoller on a second descriptor of the
// socket (a dup shares the socket and its wake-ups, not its deadlines).
// When the handshake is already over it returns at once.
func waitHandshake(ctx context.Context, tc *net.TCPConn, deadline time.Time) error {
	if done, err := handshakeOver(tc); done {
		return connectError(err)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	dupFD, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { dupFD, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", derr)
	}
	// The socket is non-blocking, so the file is registered with the
	// netpoller and has deadlines of its own.
	f := os.NewFile(uintptr(dupFD), "fastopen-handshake")
	defer f.Close()
	if dl, ok := ctx.Deadline(); ok && (deadline.IsZero() || dl.Before(deadline)) {
		deadline = dl
	}
	if err := f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	frc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		f.SetWriteDeadline(aLongTimeAgo)
		close(interrupted)
	})
	var herr error
	err = frc.Write(func(fd uintptr) bool {
		var done bool
		done, herr = handshakeState(fd)
		return done
	})
	if !stop() {
		<-interrupted
	}
	if err == nil {
		err = herr
	}
	if ctx.Err() != nil {
		err = ctxError(ctx, err)
	}
	return connectError(err)
}
