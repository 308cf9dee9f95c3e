package fastopen_test

import (
	"strings"
	"testing"

	"github.com/fastopen/fastopen"
)

func TestParseKeyForms(t *testing.T) {
	k, _ := fastopen.NewKey()
	for _, s := range []string{k.String(), strings.ReplaceAll(k.String(), "-", ""), strings.ToUpper(k.String()), " " + k.String() + "\n"} {
		got, err := fastopen.ParseKey(s)
		if err != nil || got != k {
			t.Errorf("ParseKey of a %d-character form: %v", len(s), err)
		}
	}
	if _, _, err := fastopen.ParseKeys(k.String() + "," + k.String()); err != nil {
		t.Errorf("ParseKeys primary,backup: %v", err)
	}
}
