// Package compare benchmarks the fastopen client beside the one a Go
// developer would pick instead: github.com/database64128/tfo-go and a
// plain net.Dialer. It is a module of its own so that the fastopen module
// never depends on tfo-go; its go.mod points fastopen at this checkout.
//
//	cd bench/compare && go test -run '^$' -bench . -benchmem -count 5
//
// Every run is one client-side exchange in one network namespace: dial,
// a 6-byte request, read the echo, close. The echo server runs in a child
// process, so the allocations are the client's. A TFO run fails unless
// the server namespace counted every request as data received in the SYN.
package compare
