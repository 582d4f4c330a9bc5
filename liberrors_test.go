package assetpack_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cliFlag is what a CLI flag looks like inside a message.
var cliFlag = regexp.MustCompile(`--[a-z][a-z-]+`)

// flagAllowlist lists messages of library errors that may contain a
// flag-like string, as "file: flag" (file relative to the repository, with
// slashes) mapped to the reason. Keep it short: library errors name values
// and options, and the CLI adds flag advice (cmd/assetpack/cli/advice.go).
var flagAllowlist = map[string]string{
	// For example, an error quoting the init container's command line that
	// migrate could not rewrite would belong here:
	// "kube/migrate.go: --target-directory": "quotes the cp command of the manifest",
	"sign/oidc.go: --audience": "quotes the buildkite-agent command run for a Buildkite job's OIDC token, not an assetpack flag",
}

// notLibraries are the directories whose Go code may name CLI flags: the
// CLI, the tools with their own flags, and tests.
var notLibraries = []string{"cmd", "bench", "hack", "e2e", "examples", "testdata"}

// TestLibraryErrorsNameNoFlags keeps library errors free of CLI flags (STYLE,
// Errors): a Go caller has no --key or --push. It parses every non-test Go
// file outside notLibraries and reports string literals that contain a flag
// and end up in an error: arguments of fmt.Errorf, errors.New and the
// package's own functions returning only an error, fields of composite
// literals of the package's error types, and the constants and local
// variables those use.
func TestLibraryErrorsNameNoFlags(t *testing.T) {
	fset := token.NewFileSet()
	pkgs := map[string][]*ast.File{}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || slices.Contains(notLibraries, d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.Dir(p)
		if dir == "." || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkgs[filepath.ToSlash(dir)] = append(pkgs[filepath.ToSlash(dir)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range []string{"builder", "publish", "sign", "sign/cosign", "config", "kube", "inspect", "unpack", "modelpack"} {
		if len(pkgs[lib]) == 0 {
			t.Errorf("no Go files found in %s: is the list of library packages stale?", lib)
		}
	}
	used := map[string]bool{}
	for _, dir := range slices.Sorted(maps.Keys(pkgs)) {
		for _, v := range flagsInErrors(fset, pkgs[dir]) {
			key := filepath.ToSlash(fset.Position(v.pos).Filename) + ": " + v.flag
			if _, ok := flagAllowlist[key]; ok {
				used[key] = true
				continue
			}
			t.Errorf("%s: a library error names the CLI flag %s in %q; name the value and the option in library terms, and let cmd/assetpack/cli/advice.go add the flag",
				fset.Position(v.pos), v.flag, v.text)
		}
	}
	for key := range flagAllowlist {
		if !used[key] {
			t.Errorf("flagAllowlist entry %q matches nothing: remove it", key)
		}
	}
}

// TestFlagsInErrorsFinds checks the scanner itself on a package with one
// error of each kind it must see, and messages it must leave alone.
func TestFlagsInErrorsFinds(t *testing.T) {
	src := `package p

import (
	"errors"
	"fmt"
)

type hintError struct{ Hint string }

func (e *hintError) Error() string { return e.Hint }

func invalid(format string, args ...any) error { return fmt.Errorf(format, args...) }

func parse(s string) (int, error) { return 0, nil }

const escapeHint = "or use --symlinks follow"

func f(n int) error {
	switch n {
	case 1:
		return fmt.Errorf("%w: --jobs must be at least 1", errors.ErrUnsupported)
	case 2:
		return errors.New("pass " + "--force")
	case 3:
		return invalid("bad --mount-path %q", "x")
	case 4:
		return &hintError{Hint: escapeHint}
	case 5:
		hint := fmt.Sprintf("log in with --password-stdin")
		return fmt.Errorf("denied; %s", hint)
	}
	parse("--not-a-message")          // not an error constructor
	fmt.Println("--not-an-error-either") // nor this
	return fmt.Errorf("jobs must be at least 1, got %d --- or -- so", n)
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range flagsInErrors(fset, []*ast.File{f}) {
		got = append(got, v.flag)
	}
	slices.Sort(got)
	want := []string{"--force", "--jobs", "--mount-path", "--password-stdin", "--symlinks"}
	if !slices.Equal(got, want) {
		t.Errorf("flags found = %q, want %q", got, want)
	}
}

type flagUse struct {
	pos        token.Pos
	flag, text string
}

// flagsInErrors returns the flags in string literals that one package's
// files put into errors.
func flagsInErrors(fset *token.FileSet, files []*ast.File) []flagUse {
	// The package's error constructors (functions whose only result is an
	// error) and error types (with an Error method), and its string
	// constants.
	constructors, errorTypes := map[string]bool{}, map[string]bool{}
	consts := map[string][]ast.Expr{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil && d.Name.Name == "Error" {
					errorTypes[recvType(d.Recv.List[0].Type)] = true
				}
				if r := d.Type.Results; d.Recv == nil && r != nil && len(r.List) == 1 && len(r.List[0].Names) <= 1 && isIdent(r.List[0].Type, "error") {
					constructors[d.Name.Name] = true
				}
			case *ast.GenDecl:
				addValues(consts, d)
			}
		}
	}

	var out []flagUse
	seen := map[token.Pos]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			var locals map[string][]ast.Expr
			if ok {
				locals = localValues(fn)
			}
			// check reports the flags in the literals of e, following
			// identifiers to the constants and local variables they name.
			var check func(e ast.Node, depth int)
			check = func(e ast.Node, depth int) {
				ast.Inspect(e, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.BasicLit:
						if n.Kind != token.STRING || seen[n.Pos()] {
							return true
						}
						seen[n.Pos()] = true
						s, err := strconv.Unquote(n.Value)
						if err != nil {
							s = n.Value
						}
						for _, m := range cliFlag.FindAllString(s, -1) {
							out = append(out, flagUse{pos: n.Pos(), flag: m, text: s})
						}
					case *ast.Ident:
						if depth > 4 {
							return true
						}
						for _, v := range append(locals[n.Name], consts[n.Name]...) {
							check(v, depth+1)
						}
					}
					return true
				})
			}
			ast.Inspect(d, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if isErrorCall(n.Fun, constructors) {
						for _, a := range n.Args {
							check(a, 0)
						}
					}
				case *ast.CompositeLit:
					if errorTypes[typeName(n.Type)] {
						for _, el := range n.Elts {
							check(el, 0)
						}
					}
				}
				return true
			})
		}
	}
	return out
}

// isErrorCall reports whether fun is fmt.Errorf, errors.New or one of the
// package's error constructors.
func isErrorCall(fun ast.Expr, constructors map[string]bool) bool {
	switch fun := fun.(type) {
	case *ast.Ident:
		return constructors[fun.Name]
	case *ast.SelectorExpr:
		pkg, ok := fun.X.(*ast.Ident)
		return ok && (pkg.Name == "fmt" && fun.Sel.Name == "Errorf" || pkg.Name == "errors" && fun.Sel.Name == "New")
	}
	return false
}

// addValues records the values of a const or var declaration by name.
func addValues(m map[string][]ast.Expr, d *ast.GenDecl) {
	if d.Tok != token.CONST && d.Tok != token.VAR {
		return
	}
	for _, s := range d.Specs {
		vs, ok := s.(*ast.ValueSpec)
		if !ok {
			continue
		}
		for i, name := range vs.Names {
			if i < len(vs.Values) {
				m[name.Name] = append(m[name.Name], vs.Values[i])
			}
		}
	}
}

// localValues records what fn assigns to its local names.
func localValues(fn *ast.FuncDecl) map[string][]ast.Expr {
	m := map[string][]ast.Expr{}
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) != len(n.Rhs) {
				return true
			}
			for i, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok {
					m[id.Name] = append(m[id.Name], n.Rhs[i])
				}
			}
		case *ast.GenDecl:
			addValues(m, n)
		}
		return true
	})
	return m
}

func recvType(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	return typeName(e)
}

func typeName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
