// Package lab builds emulated networks on one Linux machine, so that TCP
// Fast Open's saving of one round trip can be seen and measured: hosts are
// network namespaces, and a link between two hosts is a TUN device in each
// plus a forwarder in this process that delivers every packet at its due
// time (a timer and a short spin, bounded queues, no goroutine per
// packet). No tc netem is needed.
//
// Links have a per-direction delay, jitter, loss, duplication, rate and
// MTU; fault rules reproduce hostile middleboxes (dropping SYNs that carry
// data, stripping the TFO option, dropping SYN-ACKs with cookies,
// replaying SYNs, blackholes) and count what they hit.
//
//	l, err := lab.New(lab.Config{RTT: 100 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
//	defer l.Close()
//	l.Server.Run(func() error { /* listen on l.ServerAddr(false) */ })
//	l.Client.Run(func() error { /* dial it */ })
//
// Everything the lab creates is removed by Close, and namespaces left by a
// crashed process are removed by CleanStale, after the processes still
// running in them are stopped. Creating hosts needs root /
// CAP_NET_ADMIN; errors then wrap ErrPrivilege.
//
// New builds a two-host lab; NewHost and Attach give single hosts (network
// namespaces) to run code in with Host.Run or processes with Host.Command.
// Run keeps a lab running for other processes (`fastopen lab up`; in
// the background with StartDetached): State, ReadState and Stop describe
// and end it. SelfTest measures the forwarder's accuracy against the
// Target constants.
//
// Files: config.go holds the link's settings (Config, LinkConfig and
// their bounds), fault.go the fault-rule language (Rule, Match, Action,
// ParseFault), state.go and daemon_linux.go the lifecycle of a running
// lab.
package lab
