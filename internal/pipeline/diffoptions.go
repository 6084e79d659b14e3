package pipeline

import (
	"os"

	"github.com/org/immutos-action/diffimg"
)

// diffOptions are the engine options of every comparison immutos-verify
// makes: content looked into (the engine's default), digests when the
// verdict needs them, and the decoders chosen as immutos-diff chooses
// them (IMMUTOS_GO_DECODERS set: the built-in Go decoders only), so both
// tools give the same report for the same pair.
func diffOptions(tool string, digests bool) diffimg.Options {
	return diffimg.Options{Digests: digests, Tool: tool, GoDecoders: os.Getenv("IMMUTOS_GO_DECODERS") != ""}
}
