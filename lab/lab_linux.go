package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// in6AddrGenModeNone stops the kernel from giving the TUN device a
// link-local address (and sending router solicitations over the link):
// IN6_ADDR_GEN_MODE_NONE from include/uapi/linux/if_link.h.
const in6AddrGenModeNone = 1

// Lab is two hosts, Client and Server, joined by an emulated link whose
// forwarder runs in this process (four OS threads, which raise GOMAXPROCS
// by four while the lab exists). Close removes everything. Stats and the
// hosts' methods may be called from any goroutine while it runs.
type Lab struct {
	// Client and Server are the two hosts (network namespaces). Run code
	// in them with Run, or processes with Command.
	Client, Server *Host
	// Cleaned is what New removed of dead labs before building this one
	// (see CleanStale).
	Cleaned Cleanup

	cfg      Config
	rules    []*ruleState
	pipes    [2]*pipe // Up, Down
	files    []*os.File
	eventFds []int

	procsReserved bool
	wg            sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New creates the hosts, their TUN devices and addresses, and starts the
// forwarder. It first removes what dead labs left (CleanStale; see
// Cleaned). It
// needs root / CAP_NET_ADMIN (errors wrap ErrPrivilege) and /dev/net/tun.
// A bad cfg gives an error matching ErrConfig and builds nothing; any
// other failure removes what was built.
func New(cfg Config) (*Lab, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cleaned, err := CleanStale()
	if err != nil && os.Geteuid() == 0 {
		return nil, fmt.Errorf("lab: remove stale namespaces: %w", err)
	}
	l := &Lab{cfg: cfg, Cleaned: cleaned}
	for _, r := range cfg.Faults {
		l.rules = append(l.rules, &ruleState{Rule: r})
	}
	if l.Client, err = NewHost(HostConfig{Name: "client", FastOpen: int(fastOpenValue(cfg.ClientFastOpen)), FastOpenSet: true}); err != nil {
		return nil, err
	}
	if l.Server, err = NewHost(HostConfig{Name: "server", FastOpen: int(fastOpenValue(cfg.ServerFastOpen)), FastOpenSet: true}); err != nil {
		l.Close()
		return nil, err
	}
	cf, err := l.Client.addTun(true, cfg.MTU)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.files = append(l.files, cf)
	sf, err := l.Server.addTun(false, cfg.MTU)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.files = append(l.files, sf)

	cfd, err := rawFd(cf)
	if err != nil {
		l.Close()
		return nil, err
	}
	sfd, err := rawFd(sf)
	if err != nil {
		l.Close()
		return nil, err
	}
	var stops, wakes [2]int
	for i := range 2 * len(stops) {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("lab: eventfd: %w", err)
		}
		l.eventFds = append(l.eventFds, fd)
		if i < len(stops) {
			stops[i] = fd
		} else {
			wakes[i-len(stops)] = fd
		}
	}
	reserveProcs(threadsPerLab)
	l.procsReserved = true
	epoch := time.Now()
	rt := !cfg.NoRealtime
	l.pipes[0] = newPipe(Up, cfg.Up, cfd, sfd, stops[0], wakes[0], rt, l.rules, cfg.Seed, epoch, cfg.SpinThreshold, cfg.MTU)
	l.pipes[1] = newPipe(Down, cfg.Down, sfd, cfd, stops[1], wakes[1], rt, l.rules, cfg.Seed, epoch, cfg.SpinThreshold, cfg.MTU)
	for _, p := range l.pipes {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); p.read() }()
		go func() { defer l.wg.Done(); p.write() }()
	}
	return l, nil
}

// addTun creates the host's TUN device, configures it and returns its
// file (non-blocking; closing it removes the device).
func (h *Host) addTun(client bool, mtu int) (*os.File, error) {
	var file *os.File
	err := h.Run(func() error {
		tun := &netlink.Tuntap{
			LinkAttrs:  netlink.LinkAttrs{Name: TunName},
			Mode:       netlink.TUNTAP_MODE_TUN,
			Flags:      netlink.TUNTAP_NO_PI | netlink.TUNTAP_ONE_QUEUE,
			Queues:     1,
			NonPersist: true,
		}
		if err := netlink.LinkAdd(tun); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("create TUN device: %w", ErrPrivilege)
			}
			return fmt.Errorf("create TUN device (is /dev/net/tun available?): %w", err)
		}
		file = tun.Fds[0]
		link, err := netlink.LinkByName(TunName)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("set MTU %d: %w", mtu, err)
		}
		if err := netlink.LinkSetIP6AddrGenMode(link, in6AddrGenModeNone); err != nil {
			return fmt.Errorf("disable IPv6 link-local address: %w", err)
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("bring %s up: %w", TunName, err)
		}
		local4, local6 := hostAddrs(client)
		peer4, peer6 := hostAddrs(!client)
		for _, a := range [][2]netip.Addr{{local4, peer4}, {local6, peer6}} {
			addr := &netlink.Addr{IPNet: hostNet(a[0]), Peer: hostNet(a[1])}
			if a[0].Is6() {
				addr.Flags = unix.IFA_F_NODAD
			}
			if err := netlink.AddrAdd(link, addr); err != nil {
				return fmt.Errorf("add address %s peer %s: %w", a[0], a[1], err)
			}
		}
		return waitReady(link, local6, peer6)
	})
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, fmt.Errorf("lab: host %s: %w", h.Name, err)
	}
	return file, nil
}

// waitReady waits until the IPv6 address is usable (not tentative) and
// the peer is routable: the kernel finishes address setup asynchronously.
func waitReady(link netlink.Link, local, peer netip.Addr) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		ready := false
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		for _, a := range addrs {
			if a.IP.Equal(local.AsSlice()) && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				ready = true
			}
		}
		if ready {
			if _, err := netlink.RouteGet(peer.AsSlice()); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("IPv6 address %s on %s not ready after 3s", local, TunName)
		}
		time.Sleep(time.Millisecond)
	}
}

// threadsPerLab is the number of OS threads a lab's forwarder keeps for
// itself (a reader and a writer per direction).
const threadsPerLab = 4

var procs struct {
	sync.Mutex
	reserved int
	base     int
}

// reserveProcs raises GOMAXPROCS by n (or lowers it by -n) while labs
// run. The forwarder's threads sleep in the kernel and, when they wake,
// must get a P to run Go code: with GOMAXPROCS equal to the CPU count and
// the program's other goroutines busy, they would wait for the
// scheduler's next turn, milliseconds late. One extra P per forwarder
// thread lets them run at once; the OS (and their real-time priority)
// then decides, as it should.
func reserveProcs(n int) {
	procs.Lock()
	defer procs.Unlock()
	if procs.reserved == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.reserved += n
	if procs.reserved == 0 {
		runtime.GOMAXPROCS(procs.base)
		return
	}
	runtime.GOMAXPROCS(procs.base + procs.reserved)
}

// rawFd returns the descriptor of f without switching it to blocking
// mode (which File.Fd would do); it stays valid until f is closed.
func rawFd(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// Stats returns the link's counters: per direction, and per fault rule.
// It may be called at any time, also after Close (the final counts).
func (l *Lab) Stats() Stats {
	s := Stats{Seed: l.cfg.Seed}
	if l.pipes[0] != nil {
		s.Up, s.Down = l.pipes[0].stats(), l.pipes[1].stats()
	}
	for _, r := range l.rules {
		s.Rules = append(s.Rules, RuleStats{Name: r.Label(), Dir: r.Dir, Hits: r.hits.Load()})
	}
	return s
}

// SetFaultActive switches the fault rules labelled name (Rule.Label) off
// or back on while the lab runs: a middlebox that goes away (a path that
// heals) or comes back. Packets already queued are not affected. An
// unknown name is an error that lists the lab's rules.
func (l *Lab) SetFaultActive(name string, active bool) error {
	var labels []string
	found := false
	for _, r := range l.rules {
		labels = append(labels, r.Label())
		if r.Label() == name {
			r.off.Store(!active)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("lab: no fault rule %q (rules: %s)", name, strings.Join(labels, ", "))
	}
	return nil
}

// Close stops the forwarder, removes the TUN devices and deletes both
// namespaces. It is idempotent.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		for _, p := range l.pipes {
			if p != nil {
				p.close()
			}
		}
		l.wg.Wait()
		if l.procsReserved {
			reserveProcs(-threadsPerLab)
		}
		for _, f := range l.files {
			f.Close()
		}
		for _, fd := range l.eventFds {
			unix.Close(fd)
		}
		var errs []error
		for _, h := range []*Host{l.Client, l.Server} {
			if h != nil {
				errs = append(errs, h.Close())
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
