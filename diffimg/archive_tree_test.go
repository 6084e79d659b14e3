package diffimg

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// Archive members (cpio, tar, zip) are compared by the engine's one tree
// comparer over content.OpenArchive's trees; what they report is tested
// through diffimg.Content in package content's tests. Here: the bound the
// engine keeps for the enclosing file while it walks.

// archiveTree writes files into a fresh directory and returns it.
func archiveTree(t *testing.T, files map[string]string) string {
	dir := filepath.Join(t.TempDir(), "root")
	contenttest.Tree(t, dir, files, "@1")
	return dir
}

// --content-timeout stops the tree comparer inside a file's archive
// (TreeBounds.Expired, asked before each entry) instead of letting it
// compare every member.
func TestArchiveContentTimeoutThroughTree(t *testing.T) {
	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("d/f%02d", i)] = "x"
	}
	a := contenttest.Tar(t, archiveTree(t, many), "--format=gnu")
	for k := range many {
		many[k] = "y"
	}
	b := contenttest.Tar(t, archiveTree(t, many), "--format=gnu")
	open := func(data []byte) fsys.FS {
		f, err := content.OpenArchive(bytes.NewReader(data), int64(len(data)), content.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	inner := content.Comparer(func(string, io.ReaderAt, io.ReaderAt, int64, int64) []*report.Difference { return nil })
	all := compareTrees(open(a), open(b), inner, content.TreeBounds{})
	asked := 0
	cut := compareTrees(open(a), open(b), inner, content.TreeBounds{Expired: func() bool { asked++; return asked > 10 }})
	if len(all) < 50 || len(cut) >= 10 || asked > 12 {
		t.Fatalf("%d differences in all, %d after the deadline passed at the 10th entry (asked %d times)", len(all), len(cut), asked)
	}
}
