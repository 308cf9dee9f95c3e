// Package kernel inspects and changes the Linux kernel's TCP Fast Open
// state in a network namespace: Check explains the setup and what to
// change; ChangeRole turns the client or server side on or off;
// ReadCounters and CounterFile read the TcpExt TFO counters; Probe tells
// which TFO socket options the kernel has; CurrentNamespace says which
// namespace this is. The sysctls themselves are package sysctl's, cookie
// keys package key's, the client's cookie cache package cookie's.
//
// Everything here acts on the network namespace of the calling OS thread;
// run it inside lab.Host.Run (or a process started in a namespace) to act
// on another namespace. Changing anything needs root / CAP_NET_ADMIN: such
// errors wrap sysctl.ErrPrivilege. Linux only: elsewhere the functions fail
// with errors wrapping sysctl.ErrUnsupported.
package kernel
