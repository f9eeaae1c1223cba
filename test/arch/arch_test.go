// Package arch checks the import rules of the module layout
// (style.md §3): dependencies point one way,
// cmd → httpd/plugins/storage/core → sdk → stdlib.
package arch

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/eurekad/eurekad"

type pkg struct {
	ImportPath string
	Imports    []string
}

// rules maps a package prefix to the module packages it must not import.
var rules = []struct {
	prefix    string
	forbidden []string
	stdlib    bool // only the standard library (and the listed allowances) outside the module
}{
	{prefix: "sdk/eureka", forbidden: []string{"core", "httpd", "storage", "plugins", "cmd", "sdk/client", "sdk/plugin"}, stdlib: true},
	{prefix: "sdk/hook", forbidden: []string{"core", "httpd", "storage", "plugins", "cmd", "sdk/client", "sdk/plugin"}, stdlib: true},
	{prefix: "sdk/", forbidden: []string{"core", "httpd", "storage", "plugins", "cmd"}},
	{prefix: "core/", forbidden: []string{"httpd", "storage", "plugins", "cmd"}},
	{prefix: "storage/", forbidden: []string{"core", "httpd", "plugins", "cmd"}},
	{prefix: "plugins/", forbidden: []string{"core", "httpd", "cmd"}},
	// httpd decodes, calls core/node and encodes: replication and the
	// write path's steps are core's.
	{prefix: "httpd", forbidden: []string{"cmd", "storage", "plugins", "core/replication"}},
	{prefix: "examples/", forbidden: []string{"core", "httpd", "storage", "plugins", "cmd"}},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, r := range rules {
			if !strings.HasPrefix(rel, r.prefix) {
				continue
			}
			checked++
			for _, imp := range p.Imports {
				irel, inModule := strings.CutPrefix(imp, module+"/")
				if !inModule {
					if r.stdlib && strings.Contains(strings.Split(imp, "/")[0], ".") {
						t.Errorf("%s imports %s: only the standard library is allowed", p.ImportPath, imp)
					}
					continue
				}
				for _, f := range r.forbidden {
					if irel == f || strings.HasPrefix(irel, f+"/") {
						t.Errorf("%s imports %s, against the layout's import direction", p.ImportPath, imp)
					}
				}
			}
			break
		}
	}
	if checked == 0 {
		t.Fatal("no package checked: the rules no longer match the layout")
	}
}

// registryWrites are the registry's mutators: only core calls them, so that
// every write takes core/node's path (admit, validate, mutate, replicate,
// commit).
var registryWrites = map[string]bool{
	"Register": true, "Cancel": true, "Renew": true, "SetStatus": true,
	"DeleteStatusOverride": true, "UpdateMetadata": true, "AdoptPeerCopy": true,
}

func TestWritePathLivesInCore(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", module+"/httpd/...", module+"/cmd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, dir := range strings.Fields(string(out)) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checked++
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !registryWrites[sel.Sel.Name] {
					return true
				}
				if recv, ok := sel.X.(*ast.SelectorExpr); ok && recv.Sel.Name == "reg" {
					t.Errorf("%s calls reg.%s: registry writes go through core/node", f, sel.Sel.Name)
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "reg" {
					t.Errorf("%s calls reg.%s: registry writes go through core/node", f, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked == 0 {
		t.Fatal("no file checked")
	}
}

// TestToolsStayOutOfTheProduct keeps the tools (tools/…, each a module of
// its own) apart from the product: no product package, test files
// included, imports one, none of them is a package of the product module
// (a lost go.mod would fold it back in), and the product's cmd/ holds only
// eurekad.
func TestToolsStayOutOfTheProduct(t *testing.T) {
	// -e: an import that does not resolve is still listed, and reported
	// below by name rather than as go list's error.
	out, err := exec.Command("go", "list", "-e", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var commands []string
	listed := 0
	for dec.More() {
		var p struct {
			ImportPath, Name                   string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		listed++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "tools" || strings.HasPrefix(rel, "tools/") {
			t.Errorf("%s is a package of the product module: a tool needs its own go.mod", p.ImportPath)
		}
		if p.Name == "main" && strings.HasPrefix(rel, "cmd/") {
			commands = append(commands, rel)
		}
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if imp == module+"/tools" || strings.HasPrefix(imp, module+"/tools/") {
				t.Errorf("%s imports %s: the product does not depend on its tools", p.ImportPath, imp)
			}
		}
	}
	if listed == 0 {
		t.Fatal("go list listed no package")
	}
	if !slices.Equal(commands, []string{"cmd/eurekad"}) {
		t.Errorf("the product's commands are %v, want only cmd/eurekad: tools go under tools/, each a module of its own", commands)
	}
}
