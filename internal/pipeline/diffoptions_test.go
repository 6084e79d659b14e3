package pipeline

import "testing"

// immutos-verify honours IMMUTOS_GO_DECODERS as immutos-diff does (the
// engine no longer reads the environment itself).
func TestDiffOptionsGoDecoders(t *testing.T) {
	t.Setenv("IMMUTOS_GO_DECODERS", "")
	if o := diffOptions("t", true); o.GoDecoders || !o.Digests || o.NoContent || o.Tool != "t" {
		t.Fatalf("IMMUTOS_GO_DECODERS unset: %+v", o)
	}
	t.Setenv("IMMUTOS_GO_DECODERS", "1")
	if o := diffOptions("t", false); !o.GoDecoders || o.Digests {
		t.Fatalf("IMMUTOS_GO_DECODERS=1: %+v", o)
	}
}
