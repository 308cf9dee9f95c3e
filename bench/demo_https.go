package bench

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/fohttp"
	"github.com/fastopen/fastopen/trace"
)

// DemoHTTPSPort is the HTTPS demo's server port.
//
// The HTTPS demo (DemoConfig.HTTPS) runs a TLS server (package fohttp, a
// self-signed certificate from fotls.SelfSigned) on a TFO listener and
// Go's http.Client on a fohttp.Transport, a new connection per request:
// first contact; warm TFO with Go's default ClientHello, whose
// post-quantum key share makes it larger than a SYN carries (the SYN
// carries part of it, too_big_for_syn, nothing saved); warm TFO with
// fotls.FitSYN's ClientHello, which fits (one round trip saved, but no
// post-quantum key exchange); plain TCP; and curl without and with
// --tcp-fastopen when curl is installed.
const DemoHTTPSPort = 8443

// demoHTTPSSteps are the HTTPS demo's runs with Go's http.Client.
var demoHTTPSSteps = []demoStep{
	{id: demoFirstContact, name: "first contact", about: "first contact (TFO, no cookie yet: the SYN asks for one)", tfo: true},
	{id: demoWarm, name: "warm, default ClientHello", about: "warm, Go's default ClientHello (post-quantum key share: ~1.5 KB, more than a SYN carries on a 1500-byte link)", tfo: true},
	{id: demoWarmFit, name: "warm, FitSYN ClientHello", about: "warm, fotls.FitSYN's ClientHello (X25519 only: fits in the SYN)", tfo: true, fit: true},
	{id: demoPlain, name: "plain TCP", about: "plain TCP (no TFO: TCP handshake, TLS handshake, then the request)"},
}

// demoHTTPSCurlSteps are the HTTPS demo's runs with curl.
var demoHTTPSCurlSteps = []demoStep{
	{id: demoCurl, name: "curl", about: "curl https://", curl: true},
	{id: demoCurlTFO, name: "curl --tcp-fastopen", about: "curl --tcp-fastopen https://", curl: true, tfo: true},
}

// demoHTTPS is the HTTPS demo's server, as its clients reach it.
type demoHTTPS struct {
	// url is the server's URL; srv.pool trusts its certificate.
	url string
	srv server
	// caFile holds the certificate in PEM for curl's --cacert.
	caFile string
}

// startHTTPS starts the HTTPS server and writes its certificate for curl;
// the channel closes when the server has stopped and the file is removed
// (after ctx ends).
func (d *demo) startHTTPS(ctx context.Context) (<-chan struct{}, error) {
	d.addr = netip.AddrPortFrom(d.env.serverIP, DemoHTTPSPort)
	d.res.Server = d.addr.String()
	d.say("starting HTTPS server on %s (TFO, queue %d, self-signed certificate)…", d.addr, benchQueueLen)
	cert, pool, stop, err := startHTTPServer(ctx, d.env, d.addr, true, d.infos)
	if err != nil {
		return nil, fmt.Errorf("HTTPS server: %w", err)
	}
	h := &demoHTTPS{url: "https://" + d.addr.String() + "/", srv: server{pool: pool}}
	f, err := os.CreateTemp("", "fastopen-demo-*.pem")
	if err == nil {
		err = pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("HTTPS server: write its certificate for curl: %w", err)
	}
	h.caFile = f.Name()
	d.https = h
	if d.cfg.Loopback {
		var mtu int
		d.env.client(func() error {
			if ifi, err := net.InterfaceByName(d.env.iface); err == nil {
				mtu = ifi.MTU
			}
			return nil
		})
		if mtu > 1500 {
			d.res.Notes = append(d.res.Notes, fmt.Sprintf("%s's MTU here is %d: even Go's default ClientHello (about 1.5 KB) can ride in the SYN; on a 1500-byte link such as the lab's it does not fit (too_big_for_syn)", d.env.iface, mtu))
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		stop()
		os.Remove(h.caFile)
	}()
	return done, nil
}

// curlArgs builds the arguments of one curl GET of the server's URL,
// trusting its certificate.
func (h *demoHTTPS) curlArgs(tfo bool, timeout time.Duration) []string {
	args := append(curlTimingArgs(timeout), "--cacert", h.caFile)
	if tfo {
		args = append(args, "--tcp-fastopen")
	}
	return append(args, h.url)
}

// exchangeHTTPS sends one GET with Go's http.Client on a fohttp.Transport
// (a new connection, a full TLS handshake) and takes the client's TFO
// info.
func (d *demo) exchangeHTTPS(ctx context.Context, st demoStep, run *DemoRun) {
	run.Client, run.TLS = "go", "default"
	v := variant{client: ClientHTTP, tfo: st.tfo}
	if st.fit {
		run.TLS, v.client = "fitsyn", ClientHTTPFitFull
	}
	c := httpClient(d.env, &d.https.srv, v, d.cfg.Timeout)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.https.url, nil)
	if err != nil {
		run.Error = err.Error()
		return
	}
	var body bytes.Buffer
	res, err := fohttp.Do(c, req, &body, maxHTTPBody)
	switch {
	case err != nil:
		run.Error = err.Error()
	case res.Status != http.StatusOK:
		run.Error = fmt.Sprintf("%s answered %d", d.https.url, res.Status)
	case body.String() != HTTPBody:
		run.Error = fmt.Sprintf("body %q, want %q", body.String(), HTTPBody)
	case res.Report.InfoErr != nil:
		run.Error = "connection info: " + res.Report.InfoErr.Error()
	}
	run.ElapsedMS, run.TotalMS = msOf(res.FirstByte), msOf(res.Total)
	info := res.Report.Info
	run.ClientInfo = &info
	run.SYNData, run.SYNBytes, run.FirstFlightBytes = info.SYNData, info.SYNSentBytes, info.FirstWriteBytes
	if !info.SYNData || info.Reason == fastopen.ReasonTooBigForSYN {
		run.Reason = info.Reason.Code()
	}
}

// httpsHandshake renders flow id's packets up to (and including) the
// first packet of the server's second flight, the answer to the request,
// and names the TLS 1.3 flights: the ClientHello (in the SYN, all or
// part of it, or after the handshake), the server's ServerHello …
// Finished, the client's Finished with the request, the answer. Bare
// ACKs after the handshake's are left out. rtt,
// when positive, expresses the answer's time in round trips. It also
// returns the answer's time since the SYN in ms (0 when not captured).
func httpsHandshake(events []trace.Event, id int, rtt time.Duration) (lines []string, answerMS float64) {
	var flow []trace.Event
	for _, ev := range events {
		if ev.Flow == id {
			flow = append(flow, ev)
		}
	}
	// helloParts counts the client's data segments before the server's
	// first data, the ClientHello's; inSYN tells whether the first rode
	// in the SYN.
	helloParts, inSYN := 0, false
	for _, ev := range flow {
		if ev.Dir == trace.ToClient && ev.PayloadLen > 0 {
			break
		}
		if ev.Dir == trace.ToServer && ev.PayloadLen > 0 {
			if helloParts == 0 {
				inSYN = ev.Flags.Has(trace.SYN)
			}
			helloParts++
		}
	}
	// phase: 0 before the server's first data, 1 in its first flight,
	// 2 after the client's second flight.
	phase, part, acked := 0, 0, false
	for _, ev := range flow {
		if ev.PayloadLen == 0 && !ev.Flags.Has(trace.SYN) && !ev.Flags.Has(trace.FIN) && !ev.Flags.Has(trace.RST) {
			if acked {
				continue
			}
			acked = ev.Dir == trace.ToServer
		}
		var label string
		switch {
		case ev.Dir == trace.ToServer && ev.PayloadLen > 0 && phase == 0:
			part++
			switch {
			case helloParts == 1 && inSYN:
				label = "the whole TLS ClientHello in the SYN"
			case helloParts == 1:
				label = "TLS ClientHello"
			case part == 1 && inSYN:
				label = "only the first part of the TLS ClientHello fits in the SYN (too_big_for_syn)"
			case inSYN:
				label = "the rest of the ClientHello: the server cannot answer before it"
			case part == 1:
				label = fmt.Sprintf("TLS ClientHello, segment 1 of %d", helloParts)
			default:
				label = fmt.Sprintf("TLS ClientHello, segment %d of %d", part, helloParts)
			}
		case ev.Dir == trace.ToClient && ev.PayloadLen > 0 && phase == 0:
			phase, label = 1, "TLS ServerHello … Finished"
		case ev.Dir == trace.ToServer && ev.PayloadLen > 0 && phase == 1:
			phase, label = 2, "TLS Finished + HTTP request"
		case ev.Dir == trace.ToClient && ev.PayloadLen > 0 && phase == 2:
			label = fmt.Sprintf("the answer to the request, %.1f ms after the SYN", msOf(ev.Since))
			if rtt > 0 {
				label += fmt.Sprintf(" (%.1f RTT)", float64(ev.Since)/float64(rtt))
			}
		}
		line := fmt.Sprintf("%10s  %s  %s", fmt.Sprintf("+%.1f ms", msOf(ev.Since)), ev.Dir, ev.Note)
		if label != "" {
			line += "  [" + label + "]"
		}
		lines = append(lines, line)
		if ev.Dir == trace.ToClient && ev.PayloadLen > 0 && phase == 2 {
			return lines, msOf(ev.Since)
		}
	}
	return lines, 0
}

// synDataText describes what a run's SYN carried, for the closing table:
// "yes (6 B)", over HTTPS "yes (283 of 283 B)" or "part (1420 of
// 1501 B)", or "no".
func synDataText(r DemoRun) string {
	switch {
	case !r.SYNData:
		return "no"
	case r.FirstFlightBytes > 0 && r.SYNBytes < r.FirstFlightBytes:
		return fmt.Sprintf("part (%d of %d B)", r.SYNBytes, r.FirstFlightBytes)
	case r.FirstFlightBytes > 0:
		return fmt.Sprintf("yes (%d of %d B)", r.SYNBytes, r.FirstFlightBytes)
	case r.SYNBytes > 0:
		return fmt.Sprintf("yes (%d B)", r.SYNBytes)
	}
	return "yes"
}

// writeHTTPSSummary writes the HTTPS demo's closing lines: what each
// ClientHello saved, and how that relates to the echo demo.
func writeHTTPSSummary(w io.Writer, res *DemoResult) {
	fmt.Fprintf(w, "RTT %.0f ms. HTTPS (TLS 1.3) over plain TCP answers in 3 RTT: TCP handshake, TLS handshake, request.\n", res.RTTMS)
	var def, fit DemoRun
	for _, r := range res.Runs {
		switch r.TLS {
		case "default":
			if r.TFO && r.SYNData {
				def = r
			}
		case "fitsyn":
			fit = r
		}
	}
	fmt.Fprintf(w, "TFO saving with Go's default ClientHello (plain TCP − warm): %.1f ms = %.2f RTT", res.SavingMS, res.SavingRTTs)
	if def.FirstFlightBytes > 0 {
		fmt.Fprintf(w, ". The SYN carried only %d of its\n%d B (too_big_for_syn): the server cannot answer before the rest arrives, a round trip later", def.SYNBytes, def.FirstFlightBytes)
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintf(w, "TFO saving with fotls.FitSYN (plain TCP − warm): %.1f ms = %.2f RTT", res.FitSavingMS, res.FitSavingRTTs)
	if fit.FirstFlightBytes > 0 {
		fmt.Fprintf(w, ": its %d B ClientHello rides in the SYN", fit.FirstFlightBytes)
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintln(w, "FitSYN's price: its key exchange is X25519 alone; it gives up the post-quantum key exchange (X25519MLKEM768).")
	if res.CurlSavingMS != 0 {
		fmt.Fprintf(w, "curl --tcp-fastopen saves %.1f ms = %.2f RTT over plain curl (its ClientHello fits in the SYN).\n", res.CurlSavingMS, res.CurlSavingRTTs)
	}
	if res.LinkLatenessP99US > 0 {
		fmt.Fprintf(w, "The emulated link delivered 99%% of packets within %.0f µs of their due time.\n", res.LinkLatenessP99US)
	}
	fmt.Fprintln(w, "As with the echo (1 RTT instead of 2), TFO saves exactly one round trip over HTTPS, 2 RTT instead of 3 —")
	fmt.Fprintln(w, "but only when the whole first flight, here the ClientHello, fits in the SYN.")
}
