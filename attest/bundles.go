package attest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// maxBundleFile bounds the size of a bundle file we read (bundles are small; JSON lines
// of many attestations stay far below this).
const maxBundleFile = 64 << 20

// ErrMalformedBundle is wrapped when a bundle file is not JSON at all (or empty): the
// input cannot be read, which is trouble (exit 2), not a failed verification.
var ErrMalformedBundle = errors.New("malformed bundle file")

// BundleEntry is one bundle of a bundle file. Err is set when the entry is JSON but not
// a valid sigstore bundle (a tampered or damaged bundle), or, in a JSON-lines file, when
// its line is not JSON: that entry fails verification, the others still count.
type BundleEntry struct {
	Line   int // 1-based line in a JSON-lines file; 0 for a one-bundle file
	Bundle *bundle.Bundle
	Err    error
}

// ParseBundleEntries parses a bundle file's content: one sigstore bundle (JSON, v0.1 to
// v0.3), or JSON lines of several bundles as `gh attestation download` writes them. A line
// may also be an attestation API record, {"bundle": {...}, ...}, whose bundle is used.
// The error (wrapping ErrMalformedBundle) is only for a file with no JSON document in it;
// an entry that is JSON but not a valid bundle comes back with its Err set.
func ParseBundleEntries(data []byte) ([]BundleEntry, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformedBundle)
	}
	if json.Valid(data) {
		b, err := parseOneBundle(data)
		return []BundleEntry{{Bundle: b, Err: err}}, nil
	}
	if !bytes.Contains(data, []byte("\n")) {
		return nil, fmt.Errorf("%w: not JSON", ErrMalformedBundle)
	}
	var out []BundleEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxBundleFile)
	line, valid := 0, 0
	for sc.Scan() {
		line++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		e := BundleEntry{Line: line}
		if json.Valid(l) {
			valid++
			e.Bundle, e.Err = parseOneBundle(l)
		} else {
			e.Err = errors.New("line is not JSON")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBundle, err)
	}
	if valid == 0 {
		return nil, fmt.Errorf("%w: no JSON line in it", ErrMalformedBundle)
	}
	return out, nil
}

// ParseBundles is ParseBundleEntries for callers that want every entry valid: the first
// entry's error fails the whole file.
func ParseBundles(data []byte) ([]*bundle.Bundle, error) {
	es, err := ParseBundleEntries(data)
	if err != nil {
		return nil, err
	}
	out := make([]*bundle.Bundle, 0, len(es))
	for _, e := range es {
		if e.Err != nil {
			if e.Line > 0 {
				return nil, fmt.Errorf("line %d: %w", e.Line, e.Err)
			}
			return nil, e.Err
		}
		out = append(out, e.Bundle)
	}
	return out, nil
}

func parseOneBundle(data []byte) (*bundle.Bundle, error) {
	var probe struct {
		MediaType string          `json:"mediaType"`
		Bundle    json.RawMessage `json:"bundle"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, bundleJSONError(err)
	}
	if probe.MediaType == "" && len(probe.Bundle) > 0 {
		data = probe.Bundle
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, bundleProtoError(err)
	}
	return &b, nil
}

// LoadBundleEntries reads and parses a bundle file (see ParseBundleEntries).
func LoadBundleEntries(path string) ([]BundleEntry, error) {
	data, err := readFileLimited(path, maxBundleFile, "bundle file")
	if err != nil {
		return nil, err
	}
	es, err := ParseBundleEntries(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return es, nil
}

// readFileLimited reads a small input file, refusing one over limit bytes (what names it
// in the error).
func readFileLimited(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %s too large (over %d bytes)", path, what, limit)
	}
	return data, nil
}
