package explain

import (
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// TestDerivedAlone: a checksum or layout field that differs with nothing
// beside it must not say it follows from the other differences.
func TestDerivedAlone(t *testing.T) {
	sum := func(fs string) *report.Difference {
		return &report.Difference{Partition: report.Int(1), Filesystem: report.Str(fs), Kind: report.KindMetadata,
			Field: "checksum", A: "0x1", B: "0x2"}
	}
	alone, beside := sum("ext4"), sum("vfat")
	buildID := &report.Difference{Kind: report.KindContent, Field: "build-id", A: "ab", B: "cd"}
	file := &report.Difference{Partition: report.Int(2), File: report.Str("/bin/x"), Kind: report.KindContent, Children: []*report.Difference{buildID}}
	rep := &report.Report{Differences: []*report.Difference{
		alone,
		beside,
		{Partition: report.Int(1), Filesystem: report.Str("vfat"), File: report.Str("/f"), Kind: report.KindMtime, Field: "mtime", A: "1", B: "2"},
		file,
	}}
	Annotate(rep)
	if alone.Cause.Class != report.ClassChecksum || alone.Cause.Hint != HintAlone {
		t.Errorf("checksum alone: %+v", alone.Cause)
	}
	if beside.Cause.Hint == HintAlone {
		t.Errorf("checksum beside an mtime flagged alone")
	}
	if buildID.Cause.Class != report.ClassChecksum || buildID.Cause.Hint != HintAlone {
		t.Errorf("build-id alone in its file: %+v", buildID.Cause)
	}
	if file.Cause.Hint != HintAlone {
		t.Errorf("the file holding only the build-id: %+v", file.Cause)
	}
}
