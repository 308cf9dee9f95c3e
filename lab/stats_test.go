package lab

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestStatsJSON: the link statistics (`lab status --json`, `lab up
// --json`, `lab selftest --json`) use the same snake_case names and "_ns"
// durations as the rest of the CLI's JSON, directions are spelled out,
// and the file a running lab writes reads back the same.
func TestStatsJSON(t *testing.T) {
	s := Stats{
		Up:    DirStats{Packets: 3, Delivered: 2, FaultDrops: 1, Lateness: Lateness{Samples: 2, P50: 3 * time.Microsecond, P99: 40 * time.Microsecond, Max: time.Millisecond}},
		Down:  DirStats{Packets: 2, Delivered: 2},
		Rules: []RuleStats{{Name: "drop-syn-data", Dir: Up, Hits: 1}, {Name: "any", Dir: Both}},
		Seed:  42,
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"up":{`, `"down":{`, `"packets":3`, `"fault_drops":1`, `"lateness":{`, `"p99_ns":40000`, `"max_ns":1000000`, `"rules":[`, `"dir":"up"`, `"dir":"both"`, `"hits":1`, `"seed":42`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back Stats
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("read back %+v, want %+v", back, s)
	}
	var d Dir
	if err := d.UnmarshalText([]byte("sideways")); err == nil {
		t.Error("direction \"sideways\" accepted")
	}
}
