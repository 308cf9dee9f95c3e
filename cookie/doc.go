// Package cookie reads and flushes the client side's TFO cookie cache:
// the kernel's TCP metrics (`ip tcp_metrics`), reached over generic
// netlink. List shows the cookies held for servers; Flush makes the kernel
// forget them, so the next connection starts cold.
//
// Both act on the network namespace of the calling OS thread. Flushing
// needs root / CAP_NET_ADMIN (the error then wraps sysctl.ErrPrivilege).
// Linux only: elsewhere they fail with errors wrapping
// sysctl.ErrUnsupported.
package cookie
