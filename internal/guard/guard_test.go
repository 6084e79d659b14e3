package guard

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

// callLibrary runs f the way a parser wrapper does.
func callLibrary(f func(), libs ...string) (err error) {
	defer RecoverLibrary(&err, libs...)
	f()
	return nil
}

func TestLibraryPanicBecomesError(t *testing.T) {
	err := callLibrary(func() { _ = strings.Repeat("x", -1) }, "strings.")
	if err == nil || !strings.Contains(err.Error(), "library panic") || strings.Contains(err.Error(), "panicked") {
		t.Fatalf("err = %v, want a library error that does not say panicked", err)
	}
}

// A panic in our own callback, called by the library, is not the
// library's: it goes on to the engine boundary.
func TestOwnPanicInsideLibraryGoesOn(t *testing.T) {
	defer func() {
		p := recover()
		w, ok := p.(*Panic)
		if !ok || w.Value != "ours" || len(w.Stack) == 0 {
			t.Fatalf("recovered %#v, want *Panic carrying \"ours\" and a stack", p)
		}
	}()
	_ = callLibrary(func() {
		sort.Slice([]int{1, 2}, func(i, j int) bool { panic("ours") })
	}, "sort.")
	t.Fatal("own panic was turned into an error")
}

func TestBoundary(t *testing.T) {
	walk := func() (err error) {
		defer Recover(&err, "walk")
		var m []int
		_ = m[3]
		return nil
	}
	if Strict {
		defer func() {
			if _, ok := recover().(*Panic); !ok {
				t.Fatal("strict build: the boundary did not panic again")
			}
		}()
	}
	err := walk()
	if Strict {
		t.Fatal("strict build: the boundary recovered")
	}
	var rt interface{ RuntimeError() }
	if err == nil || !strings.Contains(err.Error(), "walk panicked: runtime error: index out of range") || errors.As(err, &rt) {
		t.Fatalf("err = %v", err)
	}
}
