// Package synth makes file content for test fixtures: prose, ELF
// executables and PE/EFI applications, each a pure function of a seed.
// Fixtures built from it are the same on every machine, whatever the host
// has installed, and still exercise the comparators that look inside
// text, ELF sections and PE sections.
//
// The generator is our own (splitmix64), not math/rand, so the bytes do
// not depend on the Go release either.
package synth

// Rand is a splitmix64 generator: tiny, and fixed forever.
type Rand struct{ s uint64 }

// NewRand returns a generator for seed.
func NewRand(seed uint64) *Rand { return &Rand{s: seed} }

// Uint64 returns the next value.
func (r *Rand) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Intn returns a value in [0, n); n must be positive.
func (r *Rand) Intn(n int) int { return int(r.Uint64() % uint64(n)) }

// Read fills p with pseudo-random bytes (incompressible content).
func (r *Rand) Read(p []byte) {
	for i := 0; i < len(p); i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < len(p); k++ {
			p[i+k] = byte(v >> (8 * k))
		}
	}
}

// Bytes returns n pseudo-random bytes.
func Bytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	NewRand(seed).Read(b)
	return b
}
