package content

import (
	"compress/gzip"
	"fmt"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// gzipHeaderFields lists the gzip header fields (RFC 1952) that differ:
// the name, the mtime, XFL (the compression level's flag) and OS, with
// a cause each. They are reported whether or not the decompressed
// content differs too: fixing the content alone would leave them.
func gzipHeaderFields(path []string, ha, hb *gzip.Header, a, b blob) []*report.Difference {
	if ha == nil || hb == nil {
		return nil
	}
	var out []*report.Difference
	field := func(name, va, vb string, class report.Class, hint string) {
		out = append(out, &report.Difference{Kind: report.KindMetadata, Path: path, Field: "gzip " + name, A: va, B: vb,
			Detail: fmt.Sprintf("gzip header %s: %s -> %s", name, va, vb), Cause: &report.Cause{Class: class, Hint: hint}})
	}
	if !ha.ModTime.Equal(hb.ModTime) {
		field("mtime", gzTime(ha.ModTime), gzTime(hb.ModTime), report.ClassTimestamp, explain.HintGzipHeader)
	}
	if ha.Name != hb.Name {
		field("name", fmt.Sprintf("%q", ha.Name), fmt.Sprintf("%q", hb.Name), report.ClassBuildPath, explain.HintGzipHeader)
	}
	if ha.OS != hb.OS {
		field("os", fmt.Sprint(ha.OS), fmt.Sprint(hb.OS), report.ClassCompression, explain.HintGzipOS)
	}
	if xa, xb := a.read(8, 1), b.read(8, 1); len(xa) == 1 && len(xb) == 1 && xa[0] != xb[0] {
		field("xfl", fmt.Sprint(xa[0]), fmt.Sprint(xb[0]), report.ClassCompression, explain.HintGzipXFL)
	}
	return out
}

func gzTime(t time.Time) string {
	if t.IsZero() || t.Unix() == 0 {
		return "0"
	}
	return t.UTC().Format(time.RFC3339)
}
