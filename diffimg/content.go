package diffimg

import "github.com/org/immutos-action/diffimg/content"

// DefaultContent returns the content comparer immutos-diff uses by
// default: package content with its default bounds (compressed streams,
// cpio, PE/UKI, ELF, nested filesystems, text, hexdumps).
func DefaultContent() ContentComparer { return Content(content.Options{}) }

// Content returns a content comparer with the given bounds; the trees it
// finds inside files, archives and filesystem images alike, are compared
// by this engine's tree comparer.
func Content(o content.Options) ContentComparer {
	o.OpenFS = openBoth
	o.Tree = compareTrees
	return ContentComparer(content.New(o))
}
