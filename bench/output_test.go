package bench

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCSVHeaderCoversPoint: --csv has a column for every JSON field of a
// point except the raw samples, as bench/SCHEMA.md promises.
func TestCSVHeaderCoversPoint(t *testing.T) {
	typ := reflect.TypeOf(Point{})
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "samples_ms" {
			continue
		}
		if !slices.Contains(CSVHeader, name) {
			t.Errorf("point field %q has no CSV column", name)
		}
	}
}
