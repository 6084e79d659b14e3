package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// TestBadInputMessages runs immutos-diff on bad inputs and checks what a
// person reads: exit 2, one line on stderr naming the input or flag, and
// none of Go's or a library's internals.
func TestBadInputMessages(t *testing.T) {
	dir := t.TempDir()
	w := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := w("a.txt", "hello\n"), w("b.txt", "world\n")
	badType := w("m1.json", `{"schema": "immutos-diff/manifest/v1", "partitions": "x"}`)
	truncated := w("m2.json", `{"schema": "immutos-diff/manifest/v1", "image": `)
	for _, c := range []struct {
		name string
		args []string
		want string // the line names this
	}{
		{"word as --max-depth", []string{"--max-depth", "abc", a, b}, "--max-depth abc"},
		{"negative --max-depth", []string{"--max-depth", "-1", a, b}, "--max-depth"},
		{"huge --max-depth", []string{"--max-depth", "99999999999999999999", a, b}, "--max-depth"},
		{"word as --max-ranges", []string{"--max-ranges", "x", a, b}, "--max-ranges x"},
		{"word as --max-differences", []string{"--max-differences", "x", a, b}, "--max-differences x"},
		{"bad --digests", []string{"--digests=maybe", a, b}, "--digests maybe"},
		{"bad --content-timeout", []string{"--content-timeout", "soon", a, b}, "--content-timeout soon"},
		{"bad --max-decompressed", []string{"--max-decompressed", "12Q", a, b}, "--max-decompressed"},
		{"bad --color", []string{"--color", "x", a, b}, "--color x"},
		{"bad --progress", []string{"--progress", "x", a, b}, "--progress x"},
		{"bad --exclude glob", []string{"--exclude", "[", a, b}, "--exclude ["},
		{"missing input", []string{a, filepath.Join(dir, "nope.raw")}, "nope.raw"},
		{"directory as input", []string{dir, a}, dir},
		{"one input", []string{a}, "two inputs"},
		{"three inputs", []string{a, b, a}, "two inputs"},
		{"--manifest with two", []string{"--manifest", a, b}, "--manifest"},
		{"manifest field of the wrong type", []string{badType, badType}, "m1.json"},
		{"truncated manifest", []string{truncated, a}, "m2.json"},
		{"unwritable report", []string{"--text", filepath.Join(dir, "no", "dir", "r.txt"), a, b}, "r.txt"},
		{"unknown flag", []string{"--frobnicate", a, b}, "--frobnicate"},
	} {
		code, _, errs := runBin(t, c.args...)
		testtool.CheckMessage(t, c.name, "immutos-diff", code, 2, errs, c.want)
	}
}
