package config

import (
	"strings"
	"testing"

	inputrules "github.com/eurekad/eurekad/core/rules"
)

// TestLimits: every input limit is a setting, from the file, the
// environment or a flag, and Limits.Validate judges the result.
func TestLimits(t *testing.T) {
	if Default().Limits != inputrules.DefaultLimits() {
		t.Errorf("default limits %+v", Default().Limits)
	}
	file := writeFile(t, `
limits:
  max_name_bytes: 1024
  max_field_bytes: 8192
  max_metadata_keys: 64
  max_metadata_key_bytes: 128
  max_metadata_value_bytes: 1024
  max_metadata_bytes: 32768
`)
	cfg, _, err := Load([]string{"--config", file, "--limits.max-metadata-keys=32"}, []string{"EUREKAD_LIMITS_MAX_FIELD_BYTES=2048"})
	if err != nil {
		t.Fatal(err)
	}
	want := inputrules.Limits{MaxNameBytes: 1024, MaxFieldBytes: 2048, MaxMetadataKeys: 32,
		MaxMetadataKeyBytes: 128, MaxMetadataValueBytes: 1024, MaxMetadataBytes: 32768}
	if cfg.Limits != want {
		t.Errorf("got %+v\nwant %+v", cfg.Limits, want)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--limits.max-name-bytes=0"}, "limits.max_name_bytes"},
		{[]string{"--limits.max-metadata-keys=-1"}, "limits.max_metadata_keys"},
		{[]string{"--limits.max-name-bytes=40000"}, "max_name_bytes 40000 is above 16384"},
		{[]string{"--limits.max-name-bytes=10"}, "max_name_bytes 10 is below 64"},
		{[]string{"--limits.max-metadata-bytes=100"}, "max_metadata_bytes 100 is below one largest entry"},
	} {
		if _, _, err := Load(c.args, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
