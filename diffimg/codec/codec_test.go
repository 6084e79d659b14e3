package codec

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func encode(t *testing.T, k Kind, data []byte, dict int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch k {
	case Gzip:
		w = gzip.NewWriter(&buf)
	case Zstd:
		w, err = zstd.NewWriter(&buf)
	case Xz:
		c := xz.WriterConfig{DictCap: dict}
		w, err = c.NewWriter(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Each stream is recognised from its first bytes and decodes back to
// what was written.
func TestSniffAndDecode(t *testing.T) {
	data := []byte(strings.Repeat("immutos ", 1000))
	for _, k := range []Kind{Gzip, Zstd, Xz} {
		z := encode(t, k, data, 1<<20)
		if got := Sniff(z); got != k {
			t.Fatalf("%v stream sniffed as %v", k, got)
		}
		r, done, err := NewReader(k, bytes.NewReader(z))
		if err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		got, err := io.ReadAll(r)
		done()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%v: decoded %d bytes, err %v", k, len(got), err)
		}
	}
	if got := Sniff([]byte("plain text")); got != None {
		t.Fatalf("plain text sniffed as %v", got)
	}
}

// An xz stream whose header asks for a dictionary past MaxXzDict is
// refused before the decoder allocates it.
func TestXzDictionaryBound(t *testing.T) {
	z := encode(t, Xz, []byte("x"), 1<<30)
	_, _, err := NewReader(Xz, bytes.NewReader(z))
	if err == nil || !strings.Contains(err.Error(), "dictionary") {
		t.Fatalf("err %v, want the dictionary refused", err)
	}
}
