package relay

import "sync/atomic"

// Stats counts what a Relay did since it was made. The JSON form names
// fields in snake case.
type Stats struct {
	// Accepted counts connections accepted (Rejected ones included).
	Accepted uint64 `json:"accepted"`
	// Active is the number of connections being relayed now.
	Active int64 `json:"active"`
	// Rejected counts connections reset at once because MaxConns were
	// being relayed.
	Rejected uint64 `json:"rejected"`
	// InSYNData counts accepted connections whose first bytes came in the
	// SYN (a fastopen.Listener's, as fastopen.Info.SYNData tells), and
	// InSYNBytes the bytes, where measurable (Info.SYNBytes).
	InSYNData  uint64 `json:"in_syn_data"`
	InSYNBytes uint64 `json:"in_syn_bytes"`
	// Unconfirmed counts connections with SYN data whose client never
	// completed the handshake (EarlyWait): replayed SYNs, or clients that
	// vanished. Their data was not forwarded.
	Unconfirmed uint64 `json:"unconfirmed"`
	// Dialed counts onward connections established.
	Dialed uint64 `json:"dialed"`
	// OutSYNData counts onward connections whose SYN data the far end
	// acknowledged (the kernel's TCPI_OPT_SYN_DATA), and OutSYNBytes the
	// size of their first flights (a first flight larger than the SYN
	// could carry, about one MSS, sent the rest after the handshake).
	OutSYNData  uint64 `json:"out_syn_data"`
	OutSYNBytes uint64 `json:"out_syn_bytes"`
	// DialErrors counts onward dials that failed (refused, unreachable,
	// timed out); the client's connection was reset.
	DialErrors uint64 `json:"dial_errors"`
	// ReadErrors counts connections that failed before their first flight
	// was read.
	ReadErrors uint64 `json:"read_errors"`
	// CopyErrors counts connections that ended with an error while
	// relaying (a reset by either peer); both legs were reset.
	CopyErrors uint64 `json:"copy_errors"`
	// IdleTimeouts counts connections closed by IdleTimeout.
	IdleTimeouts uint64 `json:"idle_timeouts"`
	// BytesUp counts bytes relayed from clients to To, BytesDown from To
	// to clients. They grow as each connection's direction ends (the
	// copy runs in the kernel, splice(2), and is counted when it returns).
	BytesUp   uint64 `json:"bytes_up"`
	BytesDown uint64 `json:"bytes_down"`
}

// counters is Stats as atomics.
type counters struct {
	accepted, rejected, inSYNData, inSYNBytes, unconfirmed atomic.Uint64
	dialed, outSYNData, outSYNBytes                        atomic.Uint64
	dialErrors, readErrors, copyErrors, idleTimeouts       atomic.Uint64
	bytesUp, bytesDown                                     atomic.Uint64
	active                                                 atomic.Int64
}

// Stats returns a snapshot of the relay's counters.
func (r *Relay) Stats() Stats {
	c := &r.stats
	return Stats{
		Accepted:     c.accepted.Load(),
		Active:       c.active.Load(),
		Rejected:     c.rejected.Load(),
		InSYNData:    c.inSYNData.Load(),
		InSYNBytes:   c.inSYNBytes.Load(),
		Unconfirmed:  c.unconfirmed.Load(),
		Dialed:       c.dialed.Load(),
		OutSYNData:   c.outSYNData.Load(),
		OutSYNBytes:  c.outSYNBytes.Load(),
		DialErrors:   c.dialErrors.Load(),
		ReadErrors:   c.readErrors.Load(),
		CopyErrors:   c.copyErrors.Load(),
		IdleTimeouts: c.idleTimeouts.Load(),
		BytesUp:      c.bytesUp.Load(),
		BytesDown:    c.bytesDown.Load(),
	}
}
