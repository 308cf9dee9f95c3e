package labtest

import (
	"fmt"
	"net"
	"os"
)

// ExchangeMessage is the request of BenchExchange: the walkthrough's six
// bytes.
var ExchangeMessage = []byte("hello!")

// echoChildEnv marks the process EchoHost starts as its echo server.
const echoChildEnv = "FASTOPEN_LABTEST_ECHO_CHILD"

// ServeEchoChild makes this process the echo server when EchoHost started
// it: it serves the listener it inherited as file descriptor 3 until it
// is killed, and never returns. In any other process it returns at once.
// A test binary that uses EchoHost calls it first thing in TestMain.
func ServeEchoChild() {
	if os.Getenv(echoChildEnv) != "1" {
		return
	}
	ln, err := net.FileListener(os.NewFile(3, "echo listener"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest echo child:", err)
		os.Exit(2)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "labtest echo child:", err)
			os.Exit(2)
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Write(buf[:n])
		}()
	}
}
