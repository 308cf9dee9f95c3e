package bench

import (
	"errors"
	"strings"
	"testing"
)

// TestHTTPConfigErrors: client and server combinations that cannot talk
// are refused before anything runs, saying what would work.
func TestHTTPConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Server: ServerHTTPS, Clients: []string{ClientLazy}}, "want clients http, http-fitsyn and http-fitsyn-full"},
		{Config{Server: ServerEcho, Clients: []string{ClientHTTP}}, "needs an HTTP server"},
		{Config{Server: ServerHTTP, Clients: []string{ClientHTTPFit}}, "needs --server https"},
		{Config{Server: "gopher"}, "want echo, nginx, http or https"},
	} {
		_, err := tc.cfg.validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want ErrConfig saying %q", tc.cfg, err, tc.want)
		}
	}
	vs, err := (&Config{Server: ServerHTTPS, Clients: []string{ClientHTTP, ClientHTTPFit}}).validate()
	if err != nil || len(vs) != 3 {
		t.Fatalf("https with http and http-fitsyn: %v, %v; want 3 variants", vs, err)
	}
}
