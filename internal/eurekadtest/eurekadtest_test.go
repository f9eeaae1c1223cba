package eurekadtest_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	eurekadtest.RemoveBinary()
	os.Exit(code)
}

// TestStartDefaultsAndRestart checks the memory default, an env override,
// Kill and a restart on the same address.
func TestStartDefaultsAndRestart(t *testing.T) {
	s := eurekadtest.Start(t)
	// The log is copied from the process's stderr by a goroutine: the line
	// may arrive just after the server answers.
	logged := func(s *eurekadtest.Server, what string) {
		t.Helper()
		eurekadtest.Eventually(t, 5*time.Second, "the log says "+what, func() error {
			if !strings.Contains(s.Output(), what) {
				return fmt.Errorf("log so far:\n%s", s.Output())
			}
			return nil
		})
	}
	logged(s, "storage=memory") // the default
	if !strings.HasPrefix(s.Base, "http://127.0.0.1:") || !strings.HasSuffix(s.BaseV2, "/eureka/v2/") {
		t.Errorf("base URLs %q %q", s.Base, s.BaseV2)
	}
	s.Kill()
	select {
	case <-s.Exited():
	default:
		t.Fatal("Exited not closed after Kill")
	}
	s.Stop() // a stopped server: no-op

	b := eurekadtest.StartAt(t, s.Addr, "EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR="+t.TempDir())
	if b.Addr != s.Addr {
		t.Errorf("restarted at %s, not %s", b.Addr, s.Addr)
	}
	logged(b, "storage=bolt")
}

func TestWriteConfig(t *testing.T) {
	env := eurekadtest.WriteConfig(t, "cluster:\n  peers: []\n")
	path, ok := strings.CutPrefix(env, "EUREKAD_CONFIG=")
	if !ok || !strings.HasSuffix(path, "/eurekad.yaml") {
		t.Fatalf("env = %q", env)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "cluster:\n  peers: []\n" {
		t.Fatalf("read %s: %q, %v", path, b, err)
	}
}
