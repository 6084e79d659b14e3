package testtool

import (
	"strings"
	"testing"
)

// NoPanic fails a fuzz target on an error whose text says a panic was
// recovered (package guard's engine boundary): a bug in our own code,
// which the fuzzer must report instead of counting as bad input.
// Built with -tags immutos_strict the boundary panics on instead.
func NoPanic(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		NoPanicText(t, err.Error())
	}
}

// NoPanicText is NoPanic for text that may carry a recovered error (a
// report's difference details).
func NoPanicText(t testing.TB, text string) {
	t.Helper()
	if strings.Contains(text, "panicked") {
		t.Fatalf("a panic was recovered: %s", text)
	}
}
