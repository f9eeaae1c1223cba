package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/eurekad/eurekad/core/cache"
)

// writeFile writes a YAML config file into a temporary directory and returns
// its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eurekad.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// defaults is Default() as Load returns it.
func defaults() Config {
	c := Default()
	c.HTTP.Addr = c.Addr
	return c
}

func TestLoadDefaults(t *testing.T) {
	cfg, warnings, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if !reflect.DeepEqual(cfg, defaults()) {
		t.Errorf("Load with nothing set:\n got %+v\nwant %+v", cfg, defaults())
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default() does not validate: %v", err)
	}
}

func TestSettingsTable(t *testing.T) {
	all := Settings()
	if len(all) == 0 {
		t.Fatal("no settings")
	}
	keys, envs, flags := map[string]bool{}, map[string]bool{FileEnv: true}, map[string]bool{FileFlag: true, "help": true}
	keyRE := regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)
	def := reflect.ValueOf(Default())
	for _, s := range all {
		if !keyRE.MatchString(s.Key) {
			t.Errorf("key %q is not lower_snake_case with dots", s.Key)
		}
		if strings.TrimSpace(s.Help) == "" {
			t.Errorf("%s has no help tag", s.Key)
		}
		if strings.Contains(s.Help, "`") {
			t.Errorf("%s: help contains a backquote, which pflag takes for a value name", s.Key)
		}
		wantEnv := "EUREKAD_" + strings.ToUpper(strings.ReplaceAll(s.Key, ".", "_"))
		if s.Env != wantEnv {
			t.Errorf("%s: env %s, want %s", s.Key, s.Env, wantEnv)
		}
		// A few often-typed settings have short flags (the issue's
		// --storage, --data-dir, --redis-url, --durability).
		shortFlags := map[string]string{
			"storage.kind": "storage", "storage.data_dir": "data-dir",
			"storage.redis_url": "redis-url", "storage.durability": "durability",
			"cluster.peers": "peers", "cluster.self_url": "self-url",
			// and the plugin flags the plugins issue names.
			"plugins.isolate_builtins": "isolate-builtins",
			"plugins.storage.plugin":   "storage-plugin", "plugins.storage.sha256": "storage-plugin-sha256",
			"plugins.auth.plugin": "auth-plugin", "plugins.auth.sha256": "auth-plugin-sha256",
			"plugins.listeners": "listener-plugin",
			// and HTTPS.
			"tls.cert_file": "tls-cert", "tls.key_file": "tls-key",
			"plugins.storage.config_json": "storage-plugin-config", "plugins.auth.config_json": "auth-plugin-config",
			"plugins.admission.plugin": "admission-plugin", "plugins.admission.sha256": "admission-plugin-sha256",
			"plugins.admission.config_json": "admission-plugin-config",
			"plugins.checker.plugin":        "checker-plugin", "plugins.checker.sha256": "checker-plugin-sha256",
			"plugins.checker.config_json": "checker-plugin-config",
		}
		wantFlag := strings.ReplaceAll(s.Key, "_", "-")
		if short, ok := shortFlags[s.Key]; ok {
			wantFlag = short
		}
		if s.Flag != wantFlag {
			t.Errorf("%s: flag %s, want %s", s.Key, s.Flag, wantFlag)
		}
		for _, dup := range []struct {
			seen map[string]bool
			name string
		}{{keys, s.Key}, {envs, s.Env}, {flags, s.Flag}} {
			if dup.seen[dup.name] {
				t.Errorf("%s: %s is used twice", s.Key, dup.name)
			}
			dup.seen[dup.name] = true
		}
		if wantSection, _, ok := strings.Cut(s.Key, "."); ok && s.Section != wantSection || !ok && s.Section != "" {
			t.Errorf("%s: section %q", s.Key, s.Section)
		}
		if got := s.get(def); !reflect.DeepEqual(got, s.Default) {
			t.Errorf("%s: Default %v, Default() has %v", s.Key, s.Default, got)
		}
	}

	// The documented examples.
	byKey := table().byKey
	s := byKey["registry.renewal_percent_threshold"]
	if s == nil || s.Env != "EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD" || s.Flag != "registry.renewal-percent-threshold" {
		t.Errorf("registry.renewal_percent_threshold: %+v", s)
	}
	if s := byKey["addr"]; s == nil || s.Flag != "addr" || s.Env != "EUREKAD_ADDR" {
		t.Errorf("addr: %+v", s)
	}
	if s := byKey["cache.mode"]; s == nil || s.Default != "fresh" || s.Type != "string" {
		t.Errorf("cache.mode: %+v", s)
	}
}

// TestSettingsCoverConfig checks that every tagged field of Config became a
// setting: the table walks the same struct, so this guards the walk itself.
func TestSettingsCoverConfig(t *testing.T) {
	var count func(reflect.Type) int
	count = func(t reflect.Type) int {
		n := 0
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("config") == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				n += count(f.Type)
			} else {
				n++
			}
		}
		return n
	}
	if got, want := len(Settings()), count(reflect.TypeFor[Config]()); got != want {
		t.Errorf("%d settings for %d tagged fields", got, want)
	}
}

func TestWalkRejectsBadFields(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"untagged", reflect.TypeFor[struct{ Addr string }](), "no config tag"},
		{"unsupported", reflect.TypeFor[struct {
			M map[string]string `config:"m" help:"x"`
		}](), "unsupported type"},
		{"nested unsupported", reflect.TypeFor[struct {
			S struct {
				U uint `config:"u" help:"x"`
			} `config:"s"`
		}](), "s.u has unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("panic %v, want one containing %q", r, tt.want)
				}
			}()
			var out []Setting
			walk(tt.typ, nil, "", &out)
		})
	}
}

func TestRulesCoverSettings(t *testing.T) {
	byKey := table().byKey
	for key := range rules {
		if byKey[key] == nil {
			t.Errorf("rules has %q, which is not a setting", key)
		}
	}
	for _, s := range Settings() {
		switch s.kind {
		case kindInt, kindInt64, kindFloat64, kindDuration:
			if rules[s.Key] == nil {
				t.Errorf("%s (%s) has no validation rule: decide which values make sense", s.Key, s.Type)
			}
		}
	}
}

func TestPrecedence(t *testing.T) {
	fileYAML := `
addr: ":7001"
shutdown_timeout: 20s
log:
  level: warn
http:
  base_paths: [/file]
  max_body_bytes: 1000
  disable_delta: true
registry:
  renewal_percent_threshold: 0.5
  enable_self_preservation: false
  expected_number_of_clients_sending_renews: 7
cache:
  mode: eureka
  update_interval: 45s
`
	file := writeFile(t, fileYAML)
	other := writeFile(t, "addr: \":7002\"\n")

	tests := []struct {
		name    string
		args    []string
		environ []string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "file overrides defaults",
			args: []string{"--config", file},
			check: func(t *testing.T, c Config) {
				want := defaults()
				want.Addr, want.HTTP.Addr = ":7001", ":7001"
				want.ShutdownTimeout = 20 * time.Second
				want.Log.Level = "warn"
				want.HTTP.BasePaths = []string{"/file"}
				want.HTTP.MaxBodyBytes = 1000
				want.HTTP.DisableDelta = true
				want.Registry.RenewalPercentThreshold = 0.5
				want.Registry.EnableSelfPreservation = false
				want.Registry.ExpectedNumberOfClientsSendingRenews = 7
				want.Cache.Mode = cache.ModeEureka
				want.Cache.UpdateInterval = 45 * time.Second
				if !reflect.DeepEqual(c, want) {
					t.Errorf("\n got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name:    "EUREKAD_CONFIG names the file",
			environ: []string{"EUREKAD_CONFIG=" + file},
			check: func(t *testing.T, c Config) {
				if c.Addr != ":7001" {
					t.Errorf("addr %q", c.Addr)
				}
			},
		},
		{
			name:    "--config beats EUREKAD_CONFIG",
			args:    []string{"--config", other},
			environ: []string{"EUREKAD_CONFIG=" + file},
			check: func(t *testing.T, c Config) {
				if c.Addr != ":7002" || c.Registry.RenewalPercentThreshold != 0.85 {
					t.Errorf("addr %q, threshold %v: want only the --config file", c.Addr, c.Registry.RenewalPercentThreshold)
				}
			},
		},
		{
			name: "env overrides file",
			args: []string{"--config", file},
			environ: []string{
				"EUREKAD_ADDR=:7003",
				"EUREKAD_SHUTDOWN_TIMEOUT=2m",
				"EUREKAD_HTTP_BASE_PATHS=/env1, /env2",
				"EUREKAD_HTTP_MAX_BODY_BYTES=2000",
				"EUREKAD_HTTP_DISABLE_DELTA=false",
				"EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD=0.6",
				"EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=TRUE",
				"EUREKAD_REGISTRY_EXPECTED_NUMBER_OF_CLIENTS_SENDING_RENEWS=8",
				"EUREKAD_CACHE_MODE=fresh",
				"EUREKAD_LOG_LEVEL=", // empty counts as unset: the file's warn stays
			},
			check: func(t *testing.T, c Config) {
				if c.Addr != ":7003" || c.ShutdownTimeout != 2*time.Minute ||
					!reflect.DeepEqual(c.HTTP.BasePaths, []string{"/env1", "/env2"}) ||
					c.HTTP.MaxBodyBytes != 2000 || c.HTTP.DisableDelta ||
					c.Registry.RenewalPercentThreshold != 0.6 || !c.Registry.EnableSelfPreservation ||
					c.Registry.ExpectedNumberOfClientsSendingRenews != 8 ||
					c.Cache.Mode != cache.ModeFresh || c.Log.Level != "warn" ||
					c.Cache.UpdateInterval != 45*time.Second {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "flags override env",
			args: []string{
				"--config", file,
				"--addr", ":7004",
				"--shutdown-timeout=90s",
				"--http.base-paths", "/flag1,/flag2", "--http.base-paths=/flag3",
				"--http.max-body-bytes", "3000",
				"--http.disable-delta",
				"--registry.renewal-percent-threshold", "0.7",
				"--registry.enable-self-preservation=false",
				"--registry.expected-number-of-clients-sending-renews", "9",
				"--cache.mode", "eureka",
			},
			environ: []string{
				"EUREKAD_ADDR=:7003",
				"EUREKAD_SHUTDOWN_TIMEOUT=2m",
				"EUREKAD_HTTP_BASE_PATHS=/env1",
				"EUREKAD_HTTP_MAX_BODY_BYTES=2000",
				"EUREKAD_HTTP_DISABLE_DELTA=false",
				"EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD=0.6",
				"EUREKAD_REGISTRY_ENABLE_SELF_PRESERVATION=true",
				"EUREKAD_REGISTRY_EXPECTED_NUMBER_OF_CLIENTS_SENDING_RENEWS=8",
				"EUREKAD_CACHE_MODE=fresh",
			},
			check: func(t *testing.T, c Config) {
				if c.Addr != ":7004" || c.HTTP.Addr != ":7004" || c.ShutdownTimeout != 90*time.Second ||
					!reflect.DeepEqual(c.HTTP.BasePaths, []string{"/flag1", "/flag2", "/flag3"}) ||
					c.HTTP.MaxBodyBytes != 3000 || !c.HTTP.DisableDelta ||
					c.Registry.RenewalPercentThreshold != 0.7 || c.Registry.EnableSelfPreservation ||
					c.Registry.ExpectedNumberOfClientsSendingRenews != 9 ||
					c.Cache.Mode != cache.ModeEureka {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name:    "flags left at their defaults do not override file or env",
			args:    []string{"--config", file, "--log.format", "json"},
			environ: []string{"EUREKAD_CACHE_UPDATE_INTERVAL=50s"},
			check: func(t *testing.T, c Config) {
				if c.Addr != ":7001" || c.Log.Format != "json" || c.Cache.UpdateInterval != 50*time.Second || c.Cache.Mode != cache.ModeEureka {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name:    "variables without the prefix are ignored",
			environ: []string{"ADDR=:1", "eurekad_addr=:2", "PATH=/bin"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, defaults()) {
					t.Errorf("got %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings, err := Load(tt.args, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			tt.check(t, cfg)
		})
	}
}

// TestEveryKindFromEverySource sets one setting of each type through the
// file, the environment and a flag, in turn.
func TestEveryKindFromEverySource(t *testing.T) {
	tests := []struct {
		key  string
		yaml string // value as written in the file
		text string // value in the environment and on the command line
		want any
	}{
		{"addr", `"127.0.0.1:80"`, "127.0.0.1:80", "127.0.0.1:80"},
		{"cache.mode", "eureka", "eureka", "eureka"},
		{"http.disable_delta", "true", "true", true},
		{"registry.sync_when_timestamp_differs", "false", "false", false},
		{"cache.max_entries", "42", "42", 42},
		{"http.max_body_bytes", "1e6", "1000000", int64(1_000_000)},
		{"registry.renewal_percent_threshold", "0.25", "0.25", 0.25},
		{"registry.renewal_percent_threshold", "1", "1", 1.0},
		{"registry.eviction_interval", "90s", "90s", 90 * time.Second},
		{"registry.wait_time_when_sync_empty", "0", "0", time.Duration(0)},
		{"cache.min_rebuild_interval", "1m30s", "1m30s", 90 * time.Second},
		{"http.base_paths", "[/a, /b]", "/a,/b", []string{"/a", "/b"}},
		{"http.base_paths", "/a,/b", "/a,/b", []string{"/a", "/b"}},
	}
	for _, tt := range tests {
		s := table().byKey[tt.key]
		section, name, nested := strings.Cut(tt.key, ".")
		yamlDoc := tt.key + ": " + tt.yaml + "\n"
		if nested {
			yamlDoc = section + ":\n  " + name + ": " + tt.yaml + "\n"
		}
		sources := map[string]struct {
			args    []string
			environ []string
		}{
			"file": {args: []string{"--config", writeFile(t, yamlDoc)}},
			"env":  {environ: []string{s.Env + "=" + tt.text}},
			"flag": {args: []string{"--" + s.Flag + "=" + tt.text}},
		}
		for source, in := range sources {
			t.Run(tt.key+"/"+tt.yaml+"/"+source, func(t *testing.T) {
				cfg, _, err := Load(in.args, in.environ)
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Value(cfg); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %#v, want %#v", got, tt.want)
				}
			})
		}
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown top-level key", "adr: :1\n", []string{`unknown key "adr"`, `did you mean "addr"`}},
		{"unknown nested key", "registry:\n  renewal_percent_treshold: 0.5\n", []string{`unknown key "registry.renewal_percent_treshold"`, `"registry.renewal_percent_threshold"`}},
		{"dashes instead of underscores", "registry:\n  renewal-percent-threshold: 0.5\n", []string{`unknown key "registry.renewal-percent-threshold"`, `did you mean "registry.renewal_percent_threshold"`}},
		{"unknown section", "storage:\n  path: ./data\n", []string{`unknown key "storage.path"`}},
		{"wrong case", "Addr: :1\n", []string{`unknown key "Addr"`}},
		{"all unknown keys reported", "foo: 1\nbar: 2\n", []string{`"foo"`, `"bar"`}},
		{"section given a value", "registry: 5\n", []string{"registry: is a section"}},
		{"setting without a value", "addr:\n", []string{"addr: no value"}},
		{"bare number for a duration", "registry:\n  eviction_interval: 60\n", []string{"registry.eviction_interval", "60 is not a duration", "60s"}},
		{"bad duration", "shutdown_timeout: soon\n", []string{"shutdown_timeout", `"soon" is not a duration`}},
		{"string for an int", "cache:\n  max_entries: lots\n", []string{"cache.max_entries", `"lots" is not an integer`}},
		{"fraction for an int", "cache:\n  max_entries: 1.5\n", []string{"cache.max_entries", "1.5 is not an integer"}},
		{"string for a bool", "http:\n  disable_delta: maybe\n", []string{"http.disable_delta", `"maybe" is not a boolean`}},
		{"number for a string", "addr: 8761\n", []string{"addr", "8761 is not a string"}},
		{"map for a list", "http:\n  base_paths: {a: b}\n", []string{"http.base_paths: a mapping is not a strings value"}},
		{"number in a list", "http:\n  base_paths: [/a, 5]\n", []string{"http.base_paths", "item 1 (5) is not a string"}},
		{"malformed YAML", "addr: [\n", []string{"config file", "yaml"}},
		{"number as a key", "registry:\n  1: x\n", []string{`unknown key "registry.1"`}},
		{"not a mapping", "- addr\n", []string{"config file", "yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.yaml)
			_, _, err := Load([]string{"--config", path}, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range append(tt.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		if _, _, err := Load(nil, []string{"EUREKAD_CONFIG=" + path}); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v does not name %s", err, path)
		}
	})
	t.Run("empty file and empty sections are fine", func(t *testing.T) {
		for _, doc := range []string{"", "# nothing\n", "registry:\n", "cache: {}\n"} {
			cfg, _, err := Load([]string{"--config", writeFile(t, doc)}, nil)
			if err != nil || !reflect.DeepEqual(cfg, defaults()) {
				t.Errorf("%q: %v", doc, err)
			}
		}
	})
}

func TestEnvironment(t *testing.T) {
	t.Run("bad value names the variable and the key", func(t *testing.T) {
		_, _, err := Load(nil, []string{"EUREKAD_REGISTRY_EVICTION_INTERVAL=60"})
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"EUREKAD_REGISTRY_EVICTION_INTERVAL", "registry.eviction_interval", `"60"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})
	t.Run("unknown variables are warnings", func(t *testing.T) {
		cfg, warnings, err := Load(nil, []string{
			"EUREKAD_CONFIG=",
			"EUREKAD_ADRR=:1",
			"EUREKAD_FOO=bar",
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cfg, defaults()) {
			t.Errorf("got %+v", cfg)
		}
		if len(warnings) != 2 ||
			!strings.Contains(warnings[0], "EUREKAD_ADRR") || !strings.Contains(warnings[0], "did you mean EUREKAD_ADDR") ||
			!strings.Contains(warnings[1], "EUREKAD_FOO") {
			t.Errorf("warnings %q", warnings)
		}
	})
	t.Run("the last of duplicate variables wins", func(t *testing.T) {
		cfg, _, err := Load(nil, []string{"EUREKAD_ADDR=:1", "EUREKAD_ADDR=:2"})
		if err != nil || cfg.Addr != ":2" {
			t.Errorf("addr %q, err %v", cfg.Addr, err)
		}
	})
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--registry.renewal-percent-threshold", "high"},
		{"--registry.eviction-interval", "60"},
		{"--no-such-flag"},
		{"positional"},
	} {
		if _, _, err := Load(args, nil); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestFlagAndEnvSameWords checks that a bad value gets the same explanation
// on the command line as in the environment, for every kind that can fail to
// parse, and never the parser's jargon.
func TestFlagAndEnvSameWords(t *testing.T) {
	for _, tt := range []struct {
		flag, env, value, want string
	}{
		{"storage.batch-size", "EUREKAD_STORAGE_BATCH_SIZE", "abc", `"abc" is not an integer`},
		{"http.max-body-bytes", "EUREKAD_HTTP_MAX_BODY_BYTES", "1MB", `"1MB" is not an integer`},
		{"registry.renewal-percent-threshold", "EUREKAD_REGISTRY_RENEWAL_PERCENT_THRESHOLD", "high", `"high" is not a number`},
		{"storage.commit-delay", "EUREKAD_STORAGE_COMMIT_DELAY", "abc", `"abc" is not a duration (such as 500ms, 30s, 15m or 1h)`},
		{"isolate-builtins", "EUREKAD_PLUGINS_ISOLATE_BUILTINS", "maybe", `"maybe" is not a boolean (true or false)`},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			key := table().byFlag[tt.flag].Key
			_, _, ferr := Load([]string{"--" + tt.flag + "=" + tt.value}, nil)
			_, _, eerr := Load(nil, []string{tt.env + "=" + tt.value})
			if ferr == nil || eerr == nil {
				t.Fatalf("flag error %v, env error %v: want both", ferr, eerr)
			}
			wantFlag := "flag --" + tt.flag + " (" + key + "): " + tt.want
			wantEnv := "environment variable " + tt.env + " (" + key + "): " + tt.want
			if ferr.Error() != wantFlag {
				t.Errorf("flag: %q\nwant %q", ferr, wantFlag)
			}
			if eerr.Error() != wantEnv {
				t.Errorf("env: %q\nwant %q", eerr, wantEnv)
			}
			if strings.Contains(ferr.Error(), "strconv") || strings.Contains(ferr.Error(), "invalid argument") {
				t.Errorf("flag error keeps the parser's words: %q", ferr)
			}
		})
	}
	// A flag error that is not about a value passes through unchanged.
	err := errors.New("unknown flag: --nope")
	if got := FlagError(err); got != err {
		t.Errorf("FlagError changed %q into %q", err, got)
	}
}

// TestRedisURL checks that a redis URL of the wrong form is refused at
// start-up, naming the setting, its flag and the expected form, without
// showing a password.
func TestRedisURL(t *testing.T) {
	const want = "want redis://host:port/db"
	for url, detail := range map[string]string{
		"localhost:6379":          `"localhost:6379" has no scheme`,
		"admin:s3cret@redis:6379": `"xxxxx@redis:6379" has no scheme`,
		"http://redis:6379/0":     `"http://redis:6379/0" has the scheme "http"`,
		"ftp://u:s3cret@h:6379":   `"ftp://u:xxxxx@h:6379" has the scheme "ftp"`,
		"unix://":                 `"unix://" names no socket path`,
	} {
		_, _, err := Load([]string{"--storage=redis", "--redis-url=" + url}, nil)
		if err == nil {
			t.Errorf("%q: no error", url)
			continue
		}
		for _, w := range []string{"storage.redis_url (--redis-url): " + detail, want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not contain %q", url, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: error shows the password: %q", url, err)
		}
	}
	for _, url := range []string{"redis://127.0.0.1:6379/0", "rediss://u:p@redis.example:6380/2", "unix:///run/redis.sock"} {
		if _, _, err := Load([]string{"--storage=redis", "--redis-url=" + url}, nil); err != nil {
			t.Errorf("%q: %v", url, err)
		}
	}
	// Only the redis store reads the URL.
	if _, _, err := Load([]string{"--storage=bolt", "--redis-url=localhost:6379"}, nil); err != nil {
		t.Errorf("bolt store with an unused bad redis URL: %v", err)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		args []string
		want []string // the key and the value, at least
	}{
		{[]string{"--registry.renewal-percent-threshold=2"}, []string{"registry.renewal_percent_threshold", "2 "}},
		{[]string{"--registry.renewal-percent-threshold=0"}, []string{"registry.renewal_percent_threshold", "0 "}},
		{[]string{"--cache.mode=bogus"}, []string{"cache.mode", `"bogus"`}},
		{[]string{"--log.level=loud"}, []string{"log.level", `"loud"`}},
		{[]string{"--log.format=xml"}, []string{"log.format", `"xml"`}},
		{[]string{"--addr=8761"}, []string{"addr", `"8761"`}},
		{[]string{"--http.base-paths=eureka"}, []string{"http.base_paths", `"eureka"`}},
		{[]string{"--http.base-paths=/a,/a/"}, []string{"http.base_paths", `"/a/" appears twice`}},
		{[]string{"--http.read-timeout=0s"}, []string{"http.read_timeout", "0s"}},
		{[]string{"--registry.eviction-interval=-1s"}, []string{"registry.eviction_interval", "-1s"}},
		{[]string{"--registry.expected-number-of-clients-sending-renews=-1"}, []string{"registry.expected_number_of_clients_sending_renews", "-1"}},
		{[]string{"--cache.max-entries=0"}, []string{"cache.max_entries", "0"}},
		{[]string{"--cache.update-interval=0s"}, []string{"cache.update_interval", "0s"}},
		{[]string{"--shutdown-timeout=0s"}, []string{"shutdown_timeout", "0s"}},
		// Every problem is reported, not just the first.
		{[]string{"--cache.mode=bogus", "--log.level=loud"}, []string{"cache.mode", "log.level"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := Load(tt.args, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}

	t.Run("from the file", func(t *testing.T) {
		for doc, want := range map[string]string{
			"cache:\n  mode: bogus\n":                          `cache.mode: "bogus"`,
			"registry:\n  renewal_percent_threshold: 2\n":      "registry.renewal_percent_threshold: 2",
			"http:\n  base_paths: []\n":                        "http.base_paths",
			"log:\n  level: verbose\n":                         `log.level: "verbose"`,
			"registry:\n  delta_retention_sweep_interval: 0\n": "registry.delta_retention_sweep_interval: 0s",
		} {
			_, _, err := Load([]string{"--config", writeFile(t, doc)}, nil)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %v, want one containing %q", doc, err, want)
			}
		}
	})

	t.Run("case-insensitive log settings", func(t *testing.T) {
		cfg, _, err := Load([]string{"--log.level=DEBUG", "--log.format=JSON"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l, err := cfg.Log.SlogLevel(); err != nil || l.String() != "DEBUG" {
			t.Errorf("level %v, %v", l, err)
		}
	})

	t.Run("cache.Options.Validate is applied", func(t *testing.T) {
		c := Default()
		delete(rules, "cache.max_entries")
		defer func() { rules["cache.max_entries"] = positive }()
		c.Cache.MaxEntries = 0
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "cache") {
			t.Errorf("error %v", err)
		}
	})
}

// nonDefault returns, for each setting, a valid value different from its
// default, as it would be typed on the command line.
func nonDefault(t *testing.T, s Setting) string {
	t.Helper()
	strs := map[string]string{
		"addr":       "127.0.0.1:9999",
		"log.level":  "debug",
		"log.format": "json",
		"cache.mode": "eureka",

		"http.admin_token":         "s3cret",
		"http.environment":         "prod",
		"http.datacenter":          "cloud",
		"storage.kind":             "redis",
		"storage.data_dir":         "/var/lib/eurekad",
		"storage.redis_url":        "redis://10.1.2.3:6380/2",
		"storage.redis_key_prefix": "reg-b:",
		"storage.durability":       "async",
		"storage.on_failure":       "reject",
		"cluster.self_url":         "http://10.0.0.1:8761/eureka/",
		"cluster.username":         "peer",
		"cluster.password":         "secret",
		"cluster.tls.ca_file":      "/etc/eurekad/peers-ca.pem",
		"cluster.tls.cert_file":    "/etc/eurekad/peer.pem",
		"cluster.tls.key_file":     "/etc/eurekad/peer-key.pem",
		"tls.cert_file":            "/etc/eurekad/server.pem",
		"tls.key_file":             "/etc/eurekad/server-key.pem",
		"tls.client_ca_file":       "/etc/eurekad/clients-ca.pem",
		"tls.client_auth":          "require",

		"plugins.storage.plugin":      "/opt/store",
		"plugins.storage.sha256":      strings.Repeat("ab", 32),
		"plugins.auth.plugin":         "static",
		"plugins.auth.sha256":         strings.Repeat("cd", 32),
		"plugins.auth.config_json":    `{"users_file":"/etc/eurekad/teams"}`,
		"plugins.storage.config_json": `{"path":"/var/lib/eurekad/registry.jsonl"}`,

		"plugins.admission.plugin":      "/opt/team-admission",
		"plugins.admission.sha256":      strings.Repeat("ef", 32),
		"plugins.admission.config_json": `{"teams":["orders"]}`,
		"plugins.checker.plugin":        "/opt/actuator-checker",
		"plugins.checker.sha256":        strings.Repeat("ab", 32),
		"plugins.checker.config_json":   `{"x":1}`,
		"health.checks_json":            `[{"app":"ORDERS","kind":"tcp"}]`,
		"regions.local":                 "eu-west-1",
	}
	switch v := s.Default.(type) {
	case string:
		if x, ok := strs[s.Key]; ok {
			return x
		}
		t.Fatalf("nonDefault: add a value for the string setting %s", s.Key)
	case bool:
		return fmt.Sprint(!v)
	case int:
		return fmt.Sprint(v + 3)
	case int64:
		return fmt.Sprint(v + 3)
	case float64:
		return fmt.Sprint(v / 2)
	case time.Duration:
		return formatDuration(v + 1500*time.Millisecond)
	case []string:
		switch s.Key {
		case "cluster.peers":
			return "http://10.0.0.2:8761/eureka/,http://10.0.0.3:8761/eureka/"
		case "regions.remote":
			return "west;http://10.1.0.2:8761/eureka/,west;http://10.1.0.3:8761/eureka/"
		case "regions.app_allow_list":
			return "west;ORDERS,global;BILLING"
		case "namespaces.declared":
			return "team-a,team-b"
		case "namespaces.max_instances":
			return "team-a=10,*=100"
		}
		return "/x,/y/z"
	}
	t.Fatalf("nonDefault: %s has type %T", s.Key, s.Default)
	return ""
}

func TestWriteYAMLRoundTrip(t *testing.T) {
	// Change every setting, so that a key WriteYAML got wrong cannot hide
	// behind its default.
	var args []string
	for _, s := range Settings() {
		args = append(args, "--"+s.Flag+"="+nonDefault(t, s))
	}
	changed, _, err := Load(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Settings() {
		if reflect.DeepEqual(s.Value(changed), s.Default) {
			t.Errorf("%s was not changed", s.Key)
		}
	}

	for _, cfg := range []Config{defaults(), changed} {
		for _, withHelp := range []bool{false, true} {
			var buf bytes.Buffer
			if err := WriteYAML(&buf, cfg, withHelp); err != nil {
				t.Fatal(err)
			}
			got, warnings, err := Load([]string{"--config", writeFile(t, buf.String())}, nil)
			if err != nil {
				t.Fatalf("loading\n%s: %v", buf.String(), err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			if !reflect.DeepEqual(got, cfg) {
				t.Errorf("round trip (help %v) of\n%s\n got %+v\nwant %+v", withHelp, buf.String(), got, cfg)
			}
			for _, s := range Settings() {
				if withHelp && !strings.Contains(buf.String(), "# "+s.Help) {
					t.Errorf("commented output lacks the help of %s", s.Key)
				}
			}
		}
	}
}

func TestWriteYAMLLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteYAML(&buf, Default(), false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"shutdown_timeout: 15s\n",
		"log:\n  level: info\n",
		"  base_paths:\n    - /eureka\n    - /eureka/v2\n",
		"  renewal_threshold_update_interval: 15m\n",
		"  override_expiry: 1h\n",
		"cache:\n  mode: fresh\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAddFlags(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	AddFlags(fs)
	usage := fs.FlagUsages()
	for _, s := range Settings() {
		f := fs.Lookup(s.Flag)
		if f == nil {
			t.Errorf("no flag --%s", s.Flag)
			continue
		}
		if !strings.Contains(f.Usage, s.Env) || !strings.Contains(f.Usage, s.Help) {
			t.Errorf("--%s usage %q lacks help or env", s.Flag, f.Usage)
		}
		if !strings.Contains(usage, "--"+s.Flag) {
			t.Errorf("FlagUsages lacks --%s", s.Flag)
		}
	}
	if f := fs.Lookup("registry.renewal-threshold-update-interval"); f == nil || f.DefValue != "15m" {
		t.Errorf("duration default shown as %q", f.DefValue)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		10 * time.Millisecond:              "10ms",
		30 * time.Second:                   "30s",
		90 * time.Second:                   "1m30s",
		15 * time.Minute:                   "15m",
		time.Hour:                          "1h",
		time.Hour + 30*time.Minute:         "1h30m",
		time.Hour + time.Second:            "1h0m1s",
		-5 * time.Second:                   "-5s",
		2*time.Hour + 500*time.Millisecond: "2h0m0.5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("%q does not parse back to %v", formatDuration(d), d)
		}
	}
}

func TestPluginBlocks(t *testing.T) {
	file := writeFile(t, `
plugins:
  isolate_builtins: true
  storage:
    plugin: ./bin/store
    config:
      path: /tmp/x.jsonl
      sync: true
      shards: {1: a, true: b}
  auth:
    plugin: static
    config: {users: [{name: a, password_hash: h}]}
  admission:
    plugin: ./bin/admission
    config: {teams: [orders]}
  listeners:
    - log
    - plugin: ./bin/events
      events: [registered, cancelled]
      queue_size: 100
      max_batch: 10
      timeout: 90s
      retry_for: 5s
      max_attempts: 3
      config: {file: /tmp/events.jsonl}
    - {plugin: webhook, config: {url: "http://a.example/"}}
    - {plugin: webhook, events: [evicted], config: {url: "http://b.example/"}}
`)
	cfg, _, err := Load([]string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Plugins
	if !p.IsolateBuiltins || p.Storage.Plugin != "./bin/store" || string(p.Storage.Config) != `{"path":"/tmp/x.jsonl","shards":{"1":"a","true":"b"},"sync":true}` {
		t.Errorf("storage = %+v (%s)", p.Storage, p.Storage.Config)
	}
	if p.Auth.Plugin != "static" || string(p.Auth.Config) != `{"users":[{"name":"a","password_hash":"h"}]}` {
		t.Errorf("auth = %+v (%s)", p.Auth, p.Auth.Config)
	}
	if p.Admission.Plugin != "./bin/admission" || string(p.Admission.Config) != `{"teams":["orders"]}` {
		t.Errorf("admission = %+v (%s)", p.Admission, p.Admission.Config)
	}
	want := []ListenerEntry{
		{Plugin: "log"},
		{Plugin: "./bin/events", Events: []string{"registered", "cancelled"}, QueueSize: 100, MaxBatch: 10, Timeout: 90 * time.Second, RetryFor: 5 * time.Second, MaxAttempts: 3,
			Config: json.RawMessage(`{"file":"/tmp/events.jsonl"}`)},
		// The same plugin twice keeps each entry's own settings.
		{Plugin: "webhook", Config: json.RawMessage(`{"url":"http://a.example/"}`)},
		{Plugin: "webhook", Events: []string{"evicted"}, Config: json.RawMessage(`{"url":"http://b.example/"}`)},
	}
	if !reflect.DeepEqual(p.ListenerEntries, want) {
		t.Errorf("listeners = %+v, want %+v", p.ListenerEntries, want)
	}

	// config print writes what loads back the same.
	var buf bytes.Buffer
	if err := WriteYAML(&buf, cfg, true); err != nil {
		t.Fatal(err)
	}
	again, _, err := Load([]string{"--config", writeFile(t, buf.String())}, nil)
	if err != nil {
		t.Fatalf("%v in\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("round trip:\n%s\n got %+v\nwant %+v", buf.String(), again.Plugins, cfg.Plugins)
	}

	// Flags replace the file's list; a listener the file describes keeps
	// its details.
	cfg, _, err = Load([]string{"--config", file, "--listener-plugin", "./bin/events", "--listener-plugin", "./bin/other"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []ListenerEntry{want[1], {Plugin: "./bin/other"}}
	if !reflect.DeepEqual(cfg.Plugins.ListenerEntries, want) {
		t.Errorf("with flags: %+v, want %+v", cfg.Plugins.ListenerEntries, want)
	}
}

func TestPluginBlocksInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"plugins:\n  storage:\n    config: 3\n", "plugins.storage.config: must be a mapping"},
		{"plugins:\n  listeners:\n    - {events: [registered]}\n", "plugins.listeners[0]: plugin: missing"},
		{"plugins:\n  listeners:\n    - {plugin: x, color: red}\n", `plugins.listeners[0]: unknown key "color"`},
		{"plugins:\n  listeners:\n    - {plugin: x, events: [born]}\n", `unknown event "born"`},
		{"plugins:\n  listeners:\n    - 7\n", "plugins.listeners[0]: 7 is neither"},
		{"plugins:\n  listeners:\n    - {plugin: x, timeout: soon}\n", "plugins.listeners[0]: timeout: soon is not a positive duration"},
		{"plugins:\n  listeners:\n    - {plugin: x, queue_size: -1}\n", "plugins.listeners[0] (x): events: queue_size -1"},
		{"plugins:\n  auth:\n    sha256: abc\n", `plugins.auth.sha256: "abc" is not a hex SHA-256`},
		{"plugins:\n  auth:\n    colour: x\n", `unknown key "plugins.auth.colour"`},
		{"plugins:\n  admission:\n    sha256: abc\n", `plugins.admission.sha256: "abc" is not a hex SHA-256`},
		{"plugins:\n  admission:\n    timeout: 0s\n", `plugins.admission.timeout`},
		{"plugins:\n  admission:\n    config: [1]\n", "plugins.admission.config: must be a mapping"},
	} {
		_, _, err := Load([]string{"--config", writeFile(t, tc.yaml)}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// A plugin's configuration can come from a flag or the environment, for a
// server run without a file; never from both a file block and a flag.
func TestPluginConfigJSON(t *testing.T) {
	cfg, _, err := Load([]string{"--auth-plugin", "./bin/team-auth", "--auth-plugin-config", `{"users_file": "./teams"}`},
		[]string{"EUREKAD_PLUGINS_STORAGE_CONFIG_JSON={\"path\": \"x.jsonl\"}"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cfg.Plugins.Auth.Block()); got != `{"users_file": "./teams"}` {
		t.Errorf("auth block = %s", got)
	}
	if got := string(cfg.Plugins.Storage.Block()); got != `{"path": "x.jsonl"}` {
		t.Errorf("storage block = %s", got)
	}
	file := writeFile(t, "plugins:\n  auth:\n    plugin: static\n    config: {users: []}\n")
	if cfg, _, err := Load([]string{"--config", file}, nil); err != nil || string(cfg.Plugins.Auth.Block()) != `{"users":[]}` {
		t.Errorf("file block alone: %s, %v", cfg.Plugins.Auth.Block(), err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", file, "--auth-plugin-config", `{"users": []}`}, "plugins.auth: config_json and the file's config: block are both given"},
		{[]string{"--auth-plugin-config", `[1, 2]`}, "plugins.auth.config_json: not a JSON object"},
		{[]string{"--storage-plugin-config", `{"path": `}, "plugins.storage.config_json: not a JSON object"},
		{[]string{"--config", writeFile(t, "plugins:\n  admission:\n    config: {teams: []}\n"), "--admission-plugin-config", `{}`},
			"plugins.admission: config_json and the file's config: block are both given"},
	} {
		if _, _, err := Load(tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// Every section has a heading of its own in --help.
func TestEverySectionHasATitle(t *testing.T) {
	for _, s := range Settings() {
		if s.Section != "" && SectionTitle(s.Section) == s.Section {
			t.Errorf("section %q (of %s) has no title in sectionTitles", s.Section, s.Key)
		}
	}
}

// plugins.admission is configured as plugins.auth is: a file section with
// its guard settings and config block, or flags and the environment.
func TestAdmissionSection(t *testing.T) {
	file := writeFile(t, "plugins:\n  admission:\n    plugin: ./bin/team-admission\n    timeout: 500ms\n    fail_open: true\n    config: {teams: [orders]}\n")
	cfg, _, err := Load([]string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Plugins.Admission
	if a.Plugin != "./bin/team-admission" || a.Guard.Timeout != 500*time.Millisecond || !a.Guard.FailOpen || string(a.Block()) != `{"teams":["orders"]}` {
		t.Errorf("from the file: %+v, block %s", a, a.Block())
	}
	cfg, _, err = Load([]string{"--admission-plugin", "./bin/x"},
		[]string{`EUREKAD_PLUGINS_ADMISSION_CONFIG_JSON={"teams": []}`, "EUREKAD_PLUGINS_ADMISSION_FAIL_OPEN=false"})
	if err != nil {
		t.Fatal(err)
	}
	a = cfg.Plugins.Admission
	if a.Plugin != "./bin/x" || a.Guard.FailOpen || a.Guard.Timeout != 2*time.Second || string(a.Block()) != `{"teams": []}` {
		t.Errorf("from flags and the environment: %+v, block %s", a, a.Block())
	}
	if d := Default().Plugins.Admission; d.Plugin != "" || d.Guard.FailOpen {
		t.Errorf("default %+v: want no admission hook, failing closed", d)
	}
}
