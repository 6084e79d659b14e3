package attest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/org/immutos-action/internal/jsonerr"
)

// embeddedTrustedRoot is a copy of the public-good instance's trusted_root.json, used when
// neither a trusted root file nor TUF (network) is available.
//
//go:embed trusted_root.public-good.json
var embeddedTrustedRoot []byte

// EmbeddedTrustedRootJSON returns the public-good trusted root compiled into the binary.
func EmbeddedTrustedRootJSON() []byte { return bytes.Clone(embeddedTrustedRoot) }

// EmbeddedTrustedRootDate is the newest validity start of any key or authority in the
// embedded trusted root: the copy is at least that recent.
func EmbeddedTrustedRootDate() time.Time { return newestStart(embeddedTrustedRoot) }

func newestStart(rootJSON []byte) time.Time {
	var v any
	if json.Unmarshal(rootJSON, &v) != nil {
		return time.Time{}
	}
	var newest time.Time
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, y := range x {
				if s, ok := y.(string); ok && k == "start" {
					if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.After(newest) {
						newest = t
					}
				}
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	return newest
}

// TrustedRootSource says where trusted material came from.
type TrustedRootSource struct {
	Kind string    `json:"kind"` // "file", "tuf" or "embedded"
	Path string    `json:"path,omitempty"`
	Date time.Time `json:"date,omitzero"` // embedded copy: newest validity start in it
	// Why the embedded copy was used: the network error TUF met, or the timeout.
	Why string `json:"why,omitempty"`
}

// Note is the line shown when the embedded copy is used: its date and why.
func (s TrustedRootSource) Note() string {
	n := "no network for TUF; using the " + s.String()
	if s.Why != "" {
		n += "; TUF: " + s.Why
	}
	return n
}

func (s TrustedRootSource) String() string {
	switch s.Kind {
	case "file":
		return "trusted root from " + s.Path
	case "embedded":
		return fmt.Sprintf("embedded public-good trusted root (offline copy, newest entry %s)", s.Date.Format("2006-01-02"))
	}
	return "public-good trusted root via TUF"
}

// ParseTrustedRoots parses a trusted root file: one trusted_root.json, or JSON lines of
// several (as `gh attestation trusted-root` writes them). Several roots are combined.
func ParseTrustedRoots(data []byte) (root.TrustedMaterial, error) {
	data = bytes.TrimSpace(data)
	if tr, err := root.NewTrustedRootFromJSON(data); err == nil {
		return tr, nil
	} else if !bytes.Contains(data, []byte("\n")) {
		return nil, fmt.Errorf("not a sigstore trusted root (trusted_root.json): %s", jsonerr.DescribeProto(err))
	}
	var coll root.TrustedMaterialCollection
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 {
			continue
		}
		tr, err := root.NewTrustedRootFromJSON(l)
		if err != nil {
			return nil, fmt.Errorf("line %d is not a sigstore trusted root: %s", n, jsonerr.DescribeProto(err))
		}
		coll = append(coll, tr)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(coll) == 0 {
		return nil, errors.New("no trusted root found")
	}
	return coll, nil
}

// TrustedRootOptions selects trusted material for LoadTrustedRoot.
type TrustedRootOptions struct {
	// Path of a trusted root file; when empty, TUF and then the embedded copy are used.
	Path string
	// TUFTimeout bounds the TUF update (default 5s); TUF is skipped when negative.
	TUFTimeout time.Duration
	// TUF overrides the TUF client options (mirror, cache); default: the public-good
	// instance, cached under ~/.sigstore.
	TUF *tuf.Options
}

// ErrTUF is wrapped when the TUF update failed for a reason other than the network being
// unreachable (a bad signature, expired or rolled-back metadata, an HTTP error from the
// mirror): the embedded copy is then not used, since someone may be keeping a revocation
// from us.
var ErrTUF = errors.New("TUF update failed")

// LoadTrustedRoot returns the trusted material: the file when given, else the
// public-good instance through TUF, else, when TUF cannot reach the network (no route,
// no DNS, connection refused, timeout), the copy embedded in the binary. Any other TUF
// failure is an error wrapping ErrTUF.
func LoadTrustedRoot(ctx context.Context, o TrustedRootOptions) (root.TrustedMaterial, TrustedRootSource, error) {
	if o.Path != "" {
		data, err := os.ReadFile(o.Path)
		if err != nil {
			return nil, TrustedRootSource{}, err
		}
		tm, err := ParseTrustedRoots(data)
		if err != nil {
			return nil, TrustedRootSource{}, fmt.Errorf("%s: %w", o.Path, err)
		}
		return tm, TrustedRootSource{Kind: "file", Path: o.Path}, nil
	}
	why := "skipped"
	if o.TUFTimeout >= 0 {
		timeout := o.TUFTimeout
		if timeout == 0 {
			timeout = 5 * time.Second
		}
		opts := o.TUF
		if opts == nil {
			opts = tuf.DefaultOptions()
		}
		type res struct {
			tr  *root.TrustedRoot
			err error
		}
		ch := make(chan res, 1)
		go func() { // the TUF client takes no context: abandon it on timeout
			tr, err := root.FetchTrustedRootWithOptions(opts)
			ch <- res{tr, err}
		}()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		select {
		case r := <-ch:
			if r.err == nil {
				return r.tr, TrustedRootSource{Kind: "tuf"}, nil
			}
			if !networkUnreachable(r.err) {
				return nil, TrustedRootSource{}, fmt.Errorf("%w (%v); not falling back to the embedded copy: only an unreachable network does; give --trusted-root FILE to choose the root yourself", ErrTUF, r.err)
			}
			why = r.err.Error()
		case <-ctx.Done():
			why = fmt.Sprintf("no answer within %s", timeout)
		}
	}
	tr, err := root.NewTrustedRootFromJSON(embeddedTrustedRoot)
	if err != nil {
		return nil, TrustedRootSource{}, fmt.Errorf("embedded trusted root: %w", err)
	}
	return tr, TrustedRootSource{Kind: "embedded", Date: EmbeddedTrustedRootDate(), Why: why}, nil
}

// networkUnreachable reports whether err says the network could not be reached: a DNS
// failure, a refused or failed connection, a timeout. An answer that was wrong (HTTP
// status, bad metadata, TLS verification) is not.
func networkUnreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "read" || opErr.Op == "write") {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
