package eurekadtest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteConfig writes yaml to eurekad.yaml in a new temporary directory of t and returns the
// environment entry "EUREKAD_CONFIG=<path>" that points eurekad at it.
func WriteConfig(t testing.TB, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eurekad.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return "EUREKAD_CONFIG=" + path
}
