package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/openkms/kms/internal/store"
)

// TestStoreCallsMatch: storetimer_gen.go is kept by hand, so check it: each
// method of store.Store has a wrapper in timedStore that observes under
// its own name in storeCalls, and storeCalls names every method once.
func TestStoreCallsMatch(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "storetimer_gen.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil {
			continue
		}
		name := fd.Name.Name
		idx := -1
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "observe" && len(call.Args) > 0 {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					idx, _ = strconv.Atoi(lit.Value)
				}
			}
			return true
		})
		if idx < 0 || idx >= len(storeCalls) || storeCalls[idx] != name {
			t.Errorf("timedStore.%s observes as call %d (%v)", name, idx, storeCalls[min(max(idx, 0), len(storeCalls)-1)])
		}
		seen[name] = true
	}
	it := reflect.TypeFor[store.Store]()
	var methods []string
	for i := range it.NumMethod() {
		methods = append(methods, it.Method(i).Name)
		if !seen[it.Method(i).Name] {
			t.Errorf("store.Store.%s has no timing wrapper", it.Method(i).Name)
		}
	}
	calls := slices.Clone(storeCalls[:])
	slices.Sort(calls)
	if !slices.Equal(calls, methods) { // reflect lists methods sorted
		t.Errorf("storeCalls and store.Store's methods differ:\n%v\n%v", calls, methods)
	}
}
