package fastopen_test

import (
	"os"
	"testing"

	"github.com/fastopen/fastopen/internal/labtest"
)

// TestMain lets this test binary serve as BenchmarkExchange's echo server
// (labtest.EchoHost starts it as a child process).
func TestMain(m *testing.M) {
	labtest.ServeEchoChild()
	os.Exit(m.Run())
}
