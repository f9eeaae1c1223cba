package readme

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// overlayBuild runs go (build or test -c) on a package that exists only
// in an overlay: files maps names to contents of a directory under
// test/readme that is never written into the clone.
// (go vet cannot enter a directory that exists only in an overlay.)
func overlayBuild(t *testing.T, verb string, files map[string]string) string {
	t.Helper()
	tmp := t.TempDir()
	pkgDir := filepath.Join(root, "test", "readme", "snippet_"+strings.ReplaceAll(t.Name(), "/", "_"))
	replace := map[string]string{}
	for name, content := range files {
		f := filepath.Join(tmp, strings.ReplaceAll(name, "/", "_"))
		writeFile(t, f, content)
		replace[filepath.Join(pkgDir, name)] = f
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tmp, "overlay.json"), string(overlay))
	out := filepath.Join(tmp, "snippet.bin")
	args := append(strings.Fields(verb), "-overlay", filepath.Join(tmp, "overlay.json"), "-o", out, "./"+mustRel(t, pkgDir))
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's Go snippet does not compile (go %s): %v\n%s\n%s", strings.Join(args, " "), err, b, files)
	}
	return out
}

func mustRel(t *testing.T, dir string) string {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

// The listener in "Writing a plugin" is examples/listener-plugin's code
// (whose own test runs it under eurekad), and compiles as shown.
func testListenerSnippet(t *testing.T, bs []block) {
	src, err := os.ReadFile(filepath.Join(root, "examples", "listener-plugin", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(withoutComments(string(src)), withoutComments(bs[0].Text)) {
		t.Errorf("the README's listener is not the code of examples/listener-plugin/main.go:\n%s", bs[0].Text)
	}
	overlayBuild(t, "build", map[string]string{"main.go": `package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

` + bs[0].Text})
}

// withoutComments drops the lines that hold only a comment: the README
// shows the example's code without them.
func withoutComments(src string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "//") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// The conformance snippet compiles against the suite, with a stand-in
// mystore (the memory store).
func testStoreSnippet(t *testing.T, bs []block) {
	overlayBuild(t, "test -c -vet=off", map[string]string{
		"mystore/mystore.go": `package mystore

import (
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

func New(dir string) storage.Store { return memory.New() }
`,
		"store_test.go": fmt.Sprintf(`package snippet

import (
	"testing"

	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	%q
)

%s`, "github.com/eurekad/eurekad/test/readme/snippet_"+strings.ReplaceAll(t.Name(), "/", "_")+"/mystore", bs[0].Text),
	})
}

// The Go SDK snippet, run against a real eurekad: its agent registers
// ORDERS with an instance id, and its Pick finds PAYMENTS.
func testSDKSnippet(t *testing.T, bs []block) {
	s := newShell(t, t.TempDir())
	eurekadtest.StartAt(t, s.ports["8761"])
	if code := register(t, s.client, s.base("8761"), "PAYMENTS", "payments-1"); code != http.StatusNoContent {
		t.Fatalf("register PAYMENTS: %d", code)
	}
	bin := overlayBuild(t, "build", map[string]string{"main.go": `package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/eurekad/eurekad/sdk/agent"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in, err := snippet(ctx, "localhost", "127.0.0.1")
	r := map[string]string{}
	if in != nil {
		r["id"] = in.InstanceID
	}
	if err != nil {
		r["err"] = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	_, _ = io.Copy(io.Discard, os.Stdin) // the agent runs until the test is done
}

func snippet(ctx context.Context, host, ip string) (*eureka.InstanceInfo, error) {
` + s.rewrite(bs[0].Text) + `	return in, err
}
`})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("the snippet program printed nothing: %v", err)
	}
	var r map[string]string
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if r["err"] != "" || r["id"] != "payments-1" {
		t.Errorf("Pick(\"PAYMENTS\") = id %q, error %q; want payments-1", r["id"], r["err"])
	}
	eurekadtest.Eventually(t, 10*time.Second, "the snippet's agent registered ORDERS with an instance id", func() error {
		code, body := httpDo(t, s.client, http.MethodGet, s.base("8761")+"/eureka/apps/ORDERS", "", "Accept", "application/json")
		if code != http.StatusOK {
			return fmt.Errorf("GET apps/ORDERS: %d", code)
		}
		if !strings.Contains(body, `"instanceId":"localhost:orders:8080"`) {
			return fmt.Errorf("no instance id localhost:orders:8080 in %s", body)
		}
		return nil
	})
}
