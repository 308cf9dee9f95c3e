//go:build !linux

package fastopen

import (
	"net"
	"net/netip"
)

func currentNamespace() uint64 { return 0 }

func pathKernel(netip.Addr) kernelView { return kernelView{} }

func (c *Conn) observePath(closing bool) {}

func (c *Conn) observeAbandoned(tc *net.TCPConn, timedOut bool) {}

func pathKernelAll() (map[netip.Addr]kernelView, error) { return nil, nil }
