// Command storage-plugin is an eurekad storage plugin keeping the registry
// in a JSON-lines file: every write appends one line (a batch is one line,
// so it is atomic), and opening replays the file into memory. Its config
// names the file: {"file": "/var/lib/eurekad/registry.jsonl"}.
//
// It is small on purpose, not a production store: the file only grows (a
// restart rewrites it compactly) and nothing is fsynced, so writes survive a
// crash of eurekad or of the plugin but not of the machine.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eurekad/eurekad/sdk/plugin"
	"github.com/eurekad/eurekad/sdk/storage"
)

func open(_ context.Context, config []byte) (storage.Store, error) {
	var c struct{ File string }
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, err
	}
	if c.File == "" {
		return nil, fmt.Errorf("jsonl store: config: file is missing")
	}
	return openFile(c.File)
}

func main() {
	plugin.Serve(plugin.ServeOptions{Name: "jsonl-store", Version: "1.0.0", Store: open})
}
