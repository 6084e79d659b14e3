package content_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

const progC = `#include <stdio.h>
int main(void) { printf("hello from %s\n", __FILE__); return 0; }
`

const progDateC = `#include <stdio.h>
int main(void) { printf("built " __DATE__ " " __TIME__ "\n"); return 0; }
`

func sectionLeaves(rep *report.Report) map[string]*report.Difference {
	m := map[string]*report.Difference{}
	for _, d := range leaves(rep) {
		if len(d.Path) > 0 {
			if _, ok := m[d.Path[0]]; !ok {
				m[d.Path[0]] = d
			}
		}
	}
	return m
}

// Two builds with a different -ffile-prefix-map (same length): the
// build path is recorded in the debug info; the build ID follows.
func TestELFBuildPath(t *testing.T) {
	dir := t.TempDir()
	a := contenttest.GCC(t, filepath.Join(dir, "a"), progC, nil, "-g", "-O1", "-ffile-prefix-map="+filepath.Join(dir, "a")+"=/build/source-aaaa")
	b := contenttest.GCC(t, filepath.Join(dir, "b"), progC, nil, "-g", "-O1", "-ffile-prefix-map="+filepath.Join(dir, "b")+"=/build/source-bbbb")
	rep := compareBytes(t, a, b, content.Options{})
	wantClass(t, rep, report.ClassBuildPath)
	secs := sectionLeaves(rep)
	debug := ""
	for n := range secs {
		if strings.HasPrefix(n, ".debug_") && secs[n].Cause.Class == report.ClassBuildPath {
			debug = n
		}
	}
	if debug == "" {
		t.Fatalf("want a .debug_* section with a build-path difference:\n%s", dump(t, rep))
	}
	if d := secs[".note.gnu.build-id"]; d == nil || d.Field != "build-id" || d.Cause.Class != report.ClassChecksum || d.Cause.Hint != explain.HintBuildID {
		t.Fatalf("want .note.gnu.build-id as a checksum:\n%s", dump(t, rep))
	}
}

// __DATE__ __TIME__ under two SOURCE_DATE_EPOCH values: .rodata holds a
// timestamp, with the __DATE__ hint.
func TestELFDate(t *testing.T) {
	dir := t.TempDir()
	a := contenttest.GCC(t, filepath.Join(dir, "src"), progDateC, []string{"SOURCE_DATE_EPOCH=1700000000"}, "-O1", "-Wno-date-time")
	b := contenttest.GCC(t, filepath.Join(dir, "src"), progDateC, []string{"SOURCE_DATE_EPOCH=1700090000"}, "-O1", "-Wno-date-time")
	rep := compareBytes(t, a, b, content.Options{})
	wantClass(t, rep, report.ClassTimestamp)
	secs := sectionLeaves(rep)
	if d := secs[".rodata"]; d == nil || d.Cause.Class != report.ClassTimestamp || d.Cause.Hint != explain.HintELFDate {
		t.Fatalf("want .rodata as a timestamp with the __DATE__ hint:\n%s", dump(t, rep))
	}
	if d := secs[".note.gnu.build-id"]; d == nil || d.Cause.Class != report.ClassChecksum {
		t.Fatalf("want .note.gnu.build-id:\n%s", dump(t, rep))
	}
}
