package fastopen_test

import (
	"io"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
)

// TestReadWriteRaceInfo: a Read that gives up waiting for the first Write
// (FirstWriteWait of 40 µs) races a Write from another goroutine.
// Whichever wins, the client's Info must tell the truth: SentInSYN is
// true exactly when the SYN carried data, as the client's TCP_INFO and the
// server's accepted connection both report.
func TestReadWriteRaceInfo(t *testing.T) {
	h, addr, infos := warmHost(t)
	d := fastopen.Dialer{FirstWriteWait: 40 * time.Microsecond}
	const msg = "race!"
	var withData, without int
	for i := 0; i < 200; i++ {
		c := labtest.Dial(t, h, &d, "tcp4", addr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		read := make(chan error, 1)
		reading := make(chan struct{})
		go func() {
			buf := make([]byte, len(msg))
			close(reading)
			_, err := io.ReadFull(c, buf)
			read <- err
		}()
		<-reading
		spin(time.Duration(i%40) * 10 * time.Microsecond) // before, around and after the Read gives up
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if err := <-read; err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		ci, err := fastopen.InfoOf(c)
		if err != nil {
			t.Fatal(err)
		}
		si := recv(t, infos)
		c.Close()
		if ci.SentInSYN != si.SYNData || ci.SYNData != si.SYNData {
			t.Fatalf("connection %d: client says sent_in_syn=%v syn_data=%v, server says syn_data=%v (%d bytes)", i, ci.SentInSYN, ci.SYNData, si.SYNData, si.SYNBytes)
		}
		if si.SYNData {
			withData++
		} else {
			without++
		}
	}
	t.Logf("%d connections with data in the SYN, %d started by the Read", withData, without)
}

// TestWriteWaitsForReadersSYN makes the race of TestReadWriteRaceInfo
// certain: a Read starts the handshake without data and, before its SYN
// leaves, a Write arrives. The Write must wait for that SYN, so the SYN
// carries no data, as the client's Info says and the server sees.
func TestWriteWaitsForReadersSYN(t *testing.T) {
	h, addr, infos := warmHost(t)
	inWindow := make(chan struct{})
	writeWaits := waitSignal(t, "write")
	fastopen.SetTestHookBeforeTrigger(func() {
		close(inWindow)
		select { // the Write below has come and waits for this SYN
		case <-writeWaits:
		case <-time.After(bound): // it did not wait: the assertions below fail
		}
	})
	defer fastopen.SetTestHookBeforeTrigger(nil)
	d := fastopen.Dialer{FirstWriteWait: time.Microsecond}
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	const msg = "after the SYN"
	read := make(chan error, 1)
	go func() {
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(c, buf)
		read <- err
	}()
	<-inWindow
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := <-read; err != nil {
		t.Fatalf("read the echo: %v", err)
	}
	ci, err := fastopen.InfoOf(c)
	if err != nil {
		t.Fatal(err)
	}
	si := recv(t, infos)
	if ci.SentInSYN || ci.SYNData || si.SYNData {
		t.Fatalf("client sent_in_syn=%v syn_data=%v, server syn_data=%v (%d bytes): want the Read's SYN without data, the Write after it",
			ci.SentInSYN, ci.SYNData, si.SYNData, si.SYNBytes)
	}
}

// spin busy-waits for d without yielding the thread (a sleep would last
// far longer than d).
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}
