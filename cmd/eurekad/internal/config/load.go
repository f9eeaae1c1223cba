package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/eurekad/eurekad/core/health"
)

const (
	// FileFlag is the flag naming the YAML config file.
	FileFlag = "config"
	// FileEnv names the YAML config file when FileFlag is not given.
	FileEnv = EnvPrefix + "CONFIG"
)

// AddFlags registers FileFlag and one flag per setting on fs. Each setting's
// flag defaults to its value in Default() and its usage names its
// environment variable, so fs.FlagUsages documents every setting.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(FileFlag, "", "read settings from this YAML `file` (env "+FileEnv+")")
	for _, s := range settings() {
		usage := s.Help + " (env " + s.Env + ")"
		switch s.kind {
		case kindString:
			fs.String(s.Flag, s.Default.(string), usage)
		case kindBool:
			fs.Bool(s.Flag, s.Default.(bool), usage)
		case kindInt:
			fs.Int(s.Flag, s.Default.(int), usage)
		case kindInt64:
			fs.Int64(s.Flag, s.Default.(int64), usage)
		case kindFloat64:
			fs.Float64(s.Flag, s.Default.(float64), usage)
		case kindDuration:
			fs.Duration(s.Flag, s.Default.(time.Duration), usage)
		case kindStrings:
			fs.StringSlice(s.Flag, s.Default.([]string), usage)
		}
		// Show defaults as they would be typed: "15m", not "15m0s";
		// "/eureka,/eureka/v2", not "[/eureka,/eureka/v2]". DefValue is
		// only ever displayed.
		if s.kind == kindDuration || s.kind == kindStrings {
			fs.Lookup(s.Flag).DefValue = s.DefaultString()
		}
	}
}

// Load parses args as eurekad's flags (see AddFlags) and returns the
// settings from Default(), the YAML file, the environment and the flags, in
// increasing order of precedence. environ is in the form of os.Environ. It
// is LoadFlags with a flag set of its own; positional arguments are an
// error.
func Load(args, environ []string) (Config, []string, error) {
	fs := pflag.NewFlagSet("eurekad", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, FlagError(err)
	}
	if fs.NArg() > 0 {
		return Config{}, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return LoadFlags(fs, environ)
}

// LoadFlags returns the effective settings given fs, a flag set prepared by
// AddFlags and already parsed, and environ, the environment in the form of
// os.Environ.
//
// Precedence, lowest first: Default(); the YAML file named by FileFlag or
// else by FileEnv; EUREKAD_* environment variables; flags that were set on
// the command line. An empty environment variable counts as unset.
//
// Unknown keys in the file, values of the wrong type anywhere and settings
// that fail Validate are errors naming the key (or variable) and the value.
// An EUREKAD_* variable that matches no setting is not an error: it comes
// back as a warning, for the caller to log.
//
// The returned Config has HTTP.Addr set to Addr.
func LoadFlags(fs *pflag.FlagSet, environ []string) (Config, []string, error) {
	// Every layer is read into values of the settings' own types, checked
	// against the settings table, and set on cfg in order of precedence.
	cfg := Default()
	fields := reflect.ValueOf(&cfg).Elem()
	byKey := table().byKey

	var blocks pluginBlocks
	if path := FilePath(fs, environ); path != "" {
		m, b, err := readFile(path)
		blocks = b
		if err != nil {
			return Config{}, nil, err
		}
		for key, v := range m {
			byKey[key].set(fields, v)
		}
	}

	m, warnings, err := readEnv(environMap(environ))
	if err != nil {
		return Config{}, warnings, err
	}
	for key, v := range m {
		byKey[key].set(fields, v)
	}

	// Visit sees only the flags set on the command line: a flag left at its
	// default must not override the file or the environment.
	var errs []error
	fs.Visit(func(f *pflag.Flag) {
		s := table().byFlag[f.Name]
		if s == nil {
			return // not a setting (--config, or a command's own flag)
		}
		v, err := s.flagValue(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("flag --%s (%s): %w", s.Flag, s.Key, err))
			return
		}
		s.set(fields, v)
	})
	if len(errs) > 0 {
		return Config{}, warnings, joinErrors(errs)
	}

	cfg.HTTP.Addr = cfg.Addr
	blocks.apply(&cfg)
	if j := cfg.Health.ChecksJSON; j != "" {
		if cfg.Health.Rules != nil {
			return Config{}, warnings, fmt.Errorf("health: checks_json and the file's health.checks are both given; keep one")
		}
		rules, err := health.ParseRules([]byte(j))
		if err != nil {
			return Config{}, warnings, fmt.Errorf("health.checks_json: %w", err)
		}
		cfg.Health.Rules = rules
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, warnings, err
	}
	return cfg, warnings, nil
}

// FlagError rewrites a flag parser's complaint about a setting's value in
// the words the environment and the file use for the same mistake
// ("flag --cache.max-entries (cache.max_entries): "lots" is not an
// integer"), instead of the parser's strconv wording. Other errors come
// back unchanged.
func FlagError(err error) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
		return err
	}
	s := table().byFlag[iv.GetFlag().Name]
	if s == nil {
		return err
	}
	if _, perr := s.parse(iv.GetValue()); perr != nil {
		return fmt.Errorf("flag --%s (%s): %w", s.Flag, s.Key, perr)
	}
	return err
}

// FilePath returns the config file LoadFlags reads: the value of FileFlag if
// it was set on fs, else the FileEnv variable in environ, else "" (no file).
func FilePath(fs *pflag.FlagSet, environ []string) string {
	if f := fs.Lookup(FileFlag); f != nil && f.Changed {
		return f.Value.String()
	}
	return environMap(environ)[FileEnv]
}

// readFile reads a YAML config file into a flat map from key to a value of
// the setting's canonical type, and the plugin blocks that are not
// settings.
func readFile(path string) (map[string]any, pluginBlocks, error) {
	var blocks pluginBlocks
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, blocks, fmt.Errorf("config file %s: %w", path, err)
	}
	var nested map[string]any
	if err := yaml.Unmarshal(text, &nested); err != nil {
		return nil, blocks, fmt.Errorf("config file %s: %w", path, err)
	}
	stringKeys(nested)
	blocks, err = takePluginBlocks(nested)
	if err != nil {
		return nil, blocks, fmt.Errorf("config file %s: %w", path, err)
	}
	raw := map[string]any{}
	flatten(nested, "", raw)
	keys := make([]string, 0, len(raw))
	for key := range raw {
		keys = append(keys, key)
	}
	slices.Sort(keys)

	idx := table()
	out := make(map[string]any, len(raw))
	var errs []error
	mapped := map[string]bool{} // settings given a mapping, already reported
	for _, key := range keys {
		val := raw[key]
		s := idx.byKey[key]
		switch {
		case s != nil && val == nil:
			errs = append(errs, fmt.Errorf("%s: no value (delete the line to keep the default, %s)", key, s.DefaultString()))
		case s != nil:
			v, err := s.coerce(val)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				continue
			}
			out[key] = v
		case idx.sections[key]:
			// "registry:" with nothing under it, or "registry: {}".
			if m, ok := val.(map[string]any); val == nil || ok && len(m) == 0 {
				continue
			}
			errs = append(errs, fmt.Errorf("%s: is a section and holds settings, not a value (%v)", key, val))
		case settingPrefix(key) != "":
			// flatten went into a mapping given where a value belongs.
			if p := settingPrefix(key); !mapped[p] {
				mapped[p] = true
				errs = append(errs, fmt.Errorf("%s: a mapping is not a %s value", p, idx.byKey[p].Type))
			}
		default:
			msg := fmt.Sprintf("unknown key %q", key)
			if hint := suggest(key, settingKeys()); hint != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", hint)
			}
			errs = append(errs, errors.New(msg))
		}
	}
	if len(errs) > 0 {
		return nil, blocks, fmt.Errorf("config file %s: %w", path, joinErrors(errs))
	}
	return out, blocks, nil
}

// stringKeys turns the keys of every mapping within v into strings, in
// place where it can, and returns v: YAML allows keys such as 1 or true,
// which neither dotted keys nor the plugins' JSON config blocks can hold.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			v[k] = stringKeys(item)
		}
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[fmt.Sprint(k)] = stringKeys(item)
		}
		return out
	case []any:
		for i, item := range v {
			v[i] = stringKeys(item)
		}
	}
	return v
}

// flatten adds the values of the nested mapping m to out under dotted keys
// starting with prefix. An empty mapping stays a value, so that a section
// written as "registry: {}" is seen and a setting given {} is refused.
func flatten(m map[string]any, prefix string, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flatten(sub, prefix+k+".", out)
			continue
		}
		out[prefix+k] = v
	}
}

// settingPrefix returns the setting whose key is a dotted prefix of key, or
// "" if there is none.
func settingPrefix(key string) string {
	for i := len(key) - 1; i > 0; i-- {
		if key[i] == '.' && table().byKey[key[:i]] != nil {
			return key[:i]
		}
	}
	return ""
}

// readEnv picks the EUREKAD_* variables out of env and converts them to a
// flat map from key to value. Variables that match no setting become
// warnings.
func readEnv(env map[string]string) (map[string]any, []string, error) {
	names := make([]string, 0, len(env))
	for name := range env {
		if strings.HasPrefix(name, EnvPrefix) && name != FileEnv {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	byEnv := table().byEnv
	out := map[string]any{}
	var warnings []string
	var errs []error
	for _, name := range names {
		s := byEnv[name]
		if s == nil {
			msg := fmt.Sprintf("environment variable %s matches no setting and is ignored", name)
			if hint := suggest(name, settingEnvs()); hint != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", hint)
			}
			warnings = append(warnings, msg)
			continue
		}
		value := env[name]
		if value == "" {
			continue
		}
		v, err := s.parse(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s (%s): %w", name, s.Key, err))
			continue
		}
		out[s.Key] = v
	}
	if len(errs) > 0 {
		return nil, warnings, joinErrors(errs)
	}
	return out, warnings, nil
}

// environMap turns os.Environ-style "NAME=value" entries into a map; a later
// entry wins over an earlier one with the same name.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && name != "" {
			m[name] = value
		}
	}
	return m
}

func settingKeys() []string {
	var out []string
	for _, s := range settings() {
		out = append(out, s.Key)
	}
	return out
}

func settingEnvs() []string {
	out := []string{FileEnv}
	for _, s := range settings() {
		out = append(out, s.Env)
	}
	return out
}

// joinErrors is errors.Join, except that a single error comes back as is.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
