package fastopen_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fastopen/fastopen"
)

func TestInfoJSONRoundTrip(t *testing.T) {
	in := fastopen.Info{Side: fastopen.SideServer, Requested: true, Reason: fastopen.ReasonDataNotAcked, State: "ESTABLISHED"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out fastopen.Info
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip of %s: %+v, %v", b, out, err)
	}
	for r := fastopen.ReasonNone; r <= fastopen.ReasonTooBigForSYN; r++ {
		if r.String() == "" || (r != fastopen.ReasonNone) == (r.Code() == "") {
			t.Errorf("reason %d: code %q text %q", r, r.Code(), r.String())
		}
	}
	if err := json.Unmarshal([]byte(`{"reason":"bogus"}`), &out); err == nil {
		t.Error("unknown reason code accepted")
	}
}

func TestErrorWraps(t *testing.T) {
	err := error(&fastopen.Error{Op: "dial", Net: "tcp", Addr: "x:1", Reason: fastopen.ReasonUnsupported, Err: errors.ErrUnsupported})
	if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, fastopen.ErrNotUsed) {
		t.Fatalf("%v does not wrap as documented", err)
	}
}
