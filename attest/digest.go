package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Digest returns the subject of the file at path: its base name and sha256, computed
// streaming (the file is never held in memory).
func Digest(path string) (Subject, error) { return DigestFile(path, nil) }

// DigestFile is Digest with an optional progress callback, called with the bytes hashed
// so far and the file size.
func DigestFile(path string, progress func(done, total int64)) (Subject, error) {
	f, err := os.Open(path)
	if err != nil {
		return Subject{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Subject{}, err
	}
	if st.IsDir() {
		return Subject{}, fmt.Errorf("%s is a directory", path)
	}
	sum, err := DigestReader(f, st.Size(), progress)
	if err != nil {
		return Subject{}, fmt.Errorf("%s: %w", path, err)
	}
	return Subject{Name: filepath.Base(path), Digest: map[string]string{"sha256": sum}}, nil
}

// DigestReader hashes r with sha256 and returns the hex digest.
func DigestReader(r io.Reader, total int64, progress func(done, total int64)) (string, error) {
	h := sha256.New()
	var w io.Writer = h
	if progress != nil {
		w = &progressWriter{w: h, total: total, fn: progress}
	}
	if _, err := io.Copy(w, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type progressWriter struct {
	w     io.Writer
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.fn(p.done, p.total)
	return n, err
}

// Digests returns the subjects of several files (at most MaxSubjects).
func Digests(paths []string, progress func(path string, done, total int64)) ([]Subject, error) {
	if len(paths) > MaxSubjects {
		return nil, fmt.Errorf("%d artifacts: sigstore verifies at most %d subjects", len(paths), MaxSubjects)
	}
	out := make([]Subject, 0, len(paths))
	for _, p := range paths {
		var fn func(done, total int64)
		if progress != nil {
			fn = func(done, total int64) { progress(p, done, total) }
		}
		s, err := DigestFile(p, fn)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
