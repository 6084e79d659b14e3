package attest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// maxBundleFile bounds the size of a bundle file we read (bundles are small; JSON lines
// of many attestations stay far below this).
const maxBundleFile = 64 << 20

// ParseBundles parses a bundle file's content: one sigstore bundle (JSON, v0.1 to v0.3),
// or JSON lines of several bundles as `gh attestation download` writes them. A line may
// also be an attestation API record, {"bundle": {...}, ...}, whose bundle is used.
func ParseBundles(data []byte) ([]*bundle.Bundle, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty bundle file")
	}
	if b, err := parseOneBundle(data); err == nil {
		return []*bundle.Bundle{b}, nil
	} else if !bytes.Contains(data, []byte("\n")) {
		return nil, err
	}
	var out []*bundle.Bundle
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxBundleFile)
	line := 0
	for sc.Scan() {
		line++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		b, err := parseOneBundle(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no bundle found")
	}
	return out, nil
}

func parseOneBundle(data []byte) (*bundle.Bundle, error) {
	var probe struct {
		MediaType string          `json:"mediaType"`
		Bundle    json.RawMessage `json:"bundle"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("malformed bundle JSON: %w", err)
	}
	if probe.MediaType == "" && len(probe.Bundle) > 0 {
		data = probe.Bundle
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("invalid bundle: %w", err)
	}
	return &b, nil
}

// LoadBundles reads and parses a bundle file (see ParseBundles).
func LoadBundles(path string) ([]*bundle.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxBundleFile {
		return nil, fmt.Errorf("%s: bundle file too large (%d bytes)", path, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bs, err := ParseBundles(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bs, nil
}
