package report_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
)

// FuzzReadReport reads mutated JSON reports (seeded with reports of real
// golden images made by the fixture tools) and renders every report that
// decodes with each presenter: no panic, errors in one line.
func FuzzReadReport(f *testing.F) {
	dir := f.TempDir()
	a := fixture.Build(f, dir, "a", fixture.Spec{})
	for i, s := range []fixture.Spec{{ESPSerial: "CAFEF00D", SquashTime: 1700000000}, {Store: "erofs"}} {
		b := fixture.Build(f, dir, string(rune('b'+i)), s)
		rep, err := diffimg.Compare(a, b, diffimg.Options{Digests: true, Tool: "fuzz", NoContent: true})
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(`{"schema":"immutos-diff/report/v1","identical":false,"differences":[{"kind":"content","offset":-1,"length":-5,"partition":-3,"children":[{"kind":"note","hexdump":"\u0000"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := report.ReadJSON(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		r.Walk(func(*report.Difference, int) {})
		r.Leaves()
		r.Classes()
		r.ExcludedRoots()
		r.Limit(3)
		if err := r.WriteJSON(io.Discard); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		present.Text(io.Discard, r, present.TextOptions{})
		present.Markdown(io.Discard, r, present.MarkdownOptions{})
		present.HTML(io.Discard, r, present.HTMLOptions{})
	})
}
