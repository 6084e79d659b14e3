package attest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Bundle kinds, as index.json lists them.
const (
	KindSignature       = "signature"
	KindProvenance      = "provenance"
	KindReproducibility = "reproducibility"
)

// BundleFile is a bundle written by SignRelease (an index.json "bundles" entry).
type BundleFile struct {
	Path     string   `json:"path"` // relative to the output directory
	Kind     string   `json:"kind"`
	Subjects []string `json:"subjects"`
}

// SignRelease writes into outDir one message-signature bundle per artifact
// (<artifact>.sigstore.json), and the provenance and reproducibility statement bundles
// when given (provenance.sigstore.json, reproducibility.sigstore.json). It returns the
// files written, for index.json.
func SignRelease(ctx context.Context, s Signer, outDir string, artifacts []string, provenance, reproducibility *Statement) ([]BundleFile, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var out []BundleFile
	write := func(name, kind string, subjects []string, data []byte) error {
		if err := os.WriteFile(filepath.Join(outDir, name), append(data, '\n'), 0o644); err != nil {
			return err
		}
		out = append(out, BundleFile{Path: name, Kind: kind, Subjects: subjects})
		return nil
	}
	seen := map[string]string{}
	for _, a := range artifacts {
		name := ArtifactBundleName(a)
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("artifacts %s and %s would share the bundle name %s", prev, a, name)
		}
		seen[name] = a
		b, err := SignBlob(ctx, s, a)
		if err != nil {
			return nil, err
		}
		if err := write(name, KindSignature, []string{filepath.Base(a)}, b); err != nil {
			return nil, err
		}
	}
	for _, st := range []struct {
		s          *Statement
		name, kind string
	}{{provenance, ProvenanceBundleName, KindProvenance}, {reproducibility, ReproducibilityBundleName, KindReproducibility}} {
		if st.s == nil {
			continue
		}
		b, err := SignStatement(ctx, s, *st.s)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, sub := range st.s.Subject {
			names = append(names, sub.Name)
		}
		if err := write(st.name, st.kind, names, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}
