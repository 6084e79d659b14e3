package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// numbered makes a report of n top-level differences, every third with a
// nested one.
func numbered(n int) *Report {
	r := &Report{}
	for i := 0; i < n; i++ {
		d := &Difference{Partition: Int(1), File: Str(fmt.Sprintf("/f%d", i)), Kind: KindContent, Detail: "content differs"}
		if i%3 == 0 {
			d.Children = []*Difference{{Kind: KindContent, Detail: "text differs"}, {Kind: KindNote, Detail: "a note"}}
		}
		r.Differences = append(r.Differences, d)
	}
	r.Finish()
	return r
}

func TestLimit(t *testing.T) {
	r := numbered(100)
	total := r.Leaves()
	c := r.Limit(10)
	if c.Leaves() != total || c.Omitted != total-10 {
		t.Fatalf("cut: leaves %d omitted %d, want %d and %d", c.Leaves(), c.Omitted, total, total-10)
	}
	shown := 0
	c.Walk(func(d *Difference, _ int) {
		if d.Counts() {
			shown++
		}
	})
	if shown != 10 {
		t.Fatalf("shown %d, want 10", shown)
	}
	if r.Leaves() != total || r.Omitted != 0 || len(r.Differences) != 100 {
		t.Fatal("Limit changed the original report")
	}
	if r.Limit(0) != r || r.Limit(total) != r {
		t.Fatal("no-op limits copied the report")
	}
}

func TestExcludedRoots(t *testing.T) {
	r := &Report{Excluded: []string{"/a", "/a-b", "/a/c", "/a/c/d", "/b/x", "/b/y"}}
	got := fmt.Sprint(r.ExcludedRoots())
	if want := "[{/a 2} {/a-b 0} {/b/x 0} {/b/y 0}]"; got != want {
		t.Fatalf("roots %s, want %s", got, want)
	}
}

// TestJSONNotHTMLEscaped: the JSON report keeps "->", "<" and "&" as they
// are (a person and jq read it; it is never embedded in HTML as is).
func TestJSONNotHTMLEscaped(t *testing.T) {
	r := &Report{Schema: Schema, Differences: []*Difference{{Kind: KindMetadata, Detail: "volume-serial: 1234-ABCD -> CAFE-F00D", A: "<a&b>"}}}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, `1234-ABCD -> CAFE-F00D`) || !strings.Contains(s, `"<a&b>"`) || strings.Contains(s, `\u00`) {
		t.Errorf("JSON escapes HTML characters:\n%s", s)
	}
}
