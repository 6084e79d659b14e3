// Package guard is the one panic-recovery policy of immutos-diff.
//
// A hostile image must not crash a comparison, so the engine recovers at
// its boundaries: opening a filesystem, walking it, comparing the content
// of a file (Boundary). Third-party and standard-library parsers known to
// panic on bad input (go-diskfs, debug/pe, debug/elf,
// archive/zip, the decompressors) are wrapped too (Library), but only a
// panic raised inside the library is turned into an error there: a panic
// raised by this module's own code, even when called back by the library,
// goes on to the engine boundary. The project's own parsers are never
// wrapped, so that fuzzing sees their bugs.
//
// Built with the immutos_strict tag (make fuzz, examples/fuzz.sh), the
// engine boundary re-panics instead of recovering, with the stack of the
// original panic, so a missed bounds check in our own code fails the
// fuzzer instead of becoming a "corrupt image" error.
package guard

import (
	"fmt"
	"path"
	"runtime"
	"runtime/debug"
	"strings"
)

// Strict reports whether the binary was built with the immutos_strict tag.
const Strict = strict

// module is the import path prefix of this module's own code.
const module = "github.com/org/immutos-action/"

// Panic is a panic value carried on from where it was first recovered,
// with the stack of the original panic.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string {
	return fmt.Sprintf("%v\n\noriginal panic:\n%s", p.Value, p.Stack)
}

// carry wraps a recovered value with the current (still panicking) stack,
// unless it is already wrapped.
func carry(p any) *Panic {
	if w, ok := p.(*Panic); ok {
		return w
	}
	return &Panic{Value: p, Stack: debug.Stack()}
}

// value is the original panic value of p.
func value(p any) any {
	if w, ok := p.(*Panic); ok {
		return w.Value
	}
	return p
}

// Boundary handles a panic recovered at an engine boundary: under
// immutos_strict it panics again; otherwise it returns an error saying
// that what panicked. Call it from the deferred function that recovered:
//
//	defer func() {
//		if p := recover(); p != nil {
//			err = guard.Boundary(p, "filesystem parser")
//		}
//	}()
func Boundary(p any, what string) error {
	if Strict {
		panic(carry(p))
	}
	return fmt.Errorf("%s panicked: %v", what, value(p))
}

// Recover is the deferred form of Boundary: defer guard.Recover(&err, "walk").
func Recover(err *error, what string) {
	if p := recover(); p != nil {
		*err = Boundary(p, what)
	}
}

// Library handles a panic recovered around a call into a third-party or
// standard-library parser. libs are the parser's package paths (or path
// prefixes: "debug/elf", "github.com/diskfs/go-diskfs/"). A panic raised
// in one of them becomes an error naming it; any other panic (raised in
// this module's code, a callback or a reader we passed in) panics on, to
// the engine boundary. Call it from the deferred function that recovered,
// while the panic's stack is still there.
func Library(p any, libs ...string) error {
	if _, ok := p.(*Panic); !ok {
		if lib := origin(libs); lib != "" {
			return fmt.Errorf("%s failed on this input (library panic: %v)", path.Base(strings.TrimSuffix(lib, "/")), p)
		}
	}
	panic(carry(p))
}

// RecoverLibrary is the deferred form of Library:
// defer guard.RecoverLibrary(&err, "github.com/diskfs/go-diskfs/").
func RecoverLibrary(err *error, libs ...string) {
	if p := recover(); p != nil {
		*err = Library(p, libs...)
	}
}

// origin returns which of libs raised the panic being handled: walking
// out from where it was raised (below runtime.gopanic), past the runtime
// and the standard library, the first frame of libs or of this module
// decides. "" means the module raised it, or it cannot be told.
func origin(libs []string) string {
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			panicking = true
		} else if panicking {
			for _, l := range libs {
				if strings.HasPrefix(f.Function, l) {
					return l
				}
			}
			if strings.HasPrefix(f.Function, module) {
				return ""
			}
		}
		if !more {
			return ""
		}
	}
}
