package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eurekad/eurekad/core/health"
)

// WriteYAML writes c to w as a YAML config file with every setting, in
// Config field order and with the keys LoadFlags reads, so that loading the
// output gives c back. Durations are written as "30s" or "15m". With
// withHelp, each section and setting is preceded by a comment carrying its
// help text and default.
func WriteYAML(w io.Writer, c Config, withHelp bool) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	maps := map[string]*yaml.Node{"": root} // dotted prefix → its mapping node
	for _, s := range settings() {
		parts := strings.Split(s.Key, ".")
		parent := root
		for i, part := range parts[:len(parts)-1] {
			prefix := strings.Join(parts[:i+1], ".")
			m := maps[prefix]
			if m == nil {
				m = &yaml.Node{Kind: yaml.MappingNode}
				key := &yaml.Node{Kind: yaml.ScalarNode, Value: part}
				if withHelp && i == 0 {
					key.HeadComment = SectionTitle(prefix)
				}
				parent.Content = append(parent.Content, key, m)
				maps[prefix] = m
			}
			parent = m
		}

		v := s.Value(c)
		if d, ok := v.(time.Duration); ok {
			v = formatDuration(d)
		}
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return fmt.Errorf("config: encode %s: %w", s.Key, err)
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Value: parts[len(parts)-1]}
		if withHelp {
			key.HeadComment = fmt.Sprintf("%s (default %s)", s.Help, defaultForComment(s))
		}
		parent.Content = append(parent.Content, key, &val)
	}

	if err := writePluginBlocks(maps, c.Plugins); err != nil {
		return err
	}
	if err := writeHealthChecks(maps, c.Health); err != nil {
		return err
	}

	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("config: write YAML: %w", err)
	}
	return enc.Close()
}

// writeHealthChecks adds health.checks, the rules, unless checks_json
// (written as a setting) holds them.
func writeHealthChecks(maps map[string]*yaml.Node, h health.Options) error {
	m := maps["health"]
	if m == nil || len(h.Rules) == 0 || h.ChecksJSON != "" {
		return nil
	}
	b, err := json.Marshal(h.Rules)
	if err != nil {
		return fmt.Errorf("config: health.checks: %w", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("config: health.checks: %w", err)
	}
	var val yaml.Node
	if err := val.Encode(v); err != nil {
		return fmt.Errorf("config: health.checks: %w", err)
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "checks"}, &val)
	return nil
}

// defaultForComment formats a default for a YAML comment, where an empty
// string or list must still be visible.
func defaultForComment(s Setting) string {
	switch v := s.Default.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		if len(v) == 0 {
			return "[]"
		}
	}
	return s.DefaultString()
}

// writePluginBlocks adds what is not a setting: the plugins' config blocks
// and the listeners' details, so that the output loads back the same.
func writePluginBlocks(maps map[string]*yaml.Node, p PluginsConfig) error {
	add := func(section string, cfg []byte) error {
		m := maps[section]
		if m == nil || len(cfg) == 0 {
			return nil
		}
		var v any
		if err := json.Unmarshal(cfg, &v); err != nil {
			return fmt.Errorf("config: %s.config: %w", section, err)
		}
		var val yaml.Node
		if err := val.Encode(v); err != nil {
			return fmt.Errorf("config: %s.config: %w", section, err)
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "config"}, &val)
		return nil
	}
	if err := add("plugins.storage", p.Storage.Config); err != nil {
		return err
	}
	if err := add("plugins.auth", p.Auth.Config); err != nil {
		return err
	}
	if err := add("plugins.admission", p.Admission.Config); err != nil {
		return err
	}
	if err := add("plugins.checker", p.Checker.Config); err != nil {
		return err
	}
	m := maps["plugins"]
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "listeners" {
			continue
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range p.ListenerEntries {
			var item yaml.Node
			var err error
			if e.SHA256 == "" && len(e.Events) == 0 && len(e.Config) == 0 && e.QueueSize == 0 && e.MaxBatch == 0 && e.Timeout == 0 &&
				e.RetryFor == 0 && e.MaxAttempts == 0 {
				err = item.Encode(e.Plugin)
			} else {
				var v map[string]any
				b, _ := json.Marshal(e)
				if err = json.Unmarshal(b, &v); err == nil {
					if e.Timeout > 0 {
						v["timeout"] = formatDuration(e.Timeout)
					}
					if e.RetryFor > 0 {
						v["retry_for"] = formatDuration(e.RetryFor)
					}
					err = item.Encode(v)
				}
			}
			if err != nil {
				return fmt.Errorf("config: plugins.listeners: %w", err)
			}
			seq.Content = append(seq.Content, &item)
		}
		if len(seq.Content) > 0 {
			m.Content[i+1] = seq
		}
	}
	return nil
}
