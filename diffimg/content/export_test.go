package content

import (
	"io"
	"time"
)

// Hooks for the external tests (package content_test). Those compare
// through diffimg.Content, the engine's tree comparer wired in, so they
// cannot be internal tests (diffimg imports this package); what they
// check of the readers themselves goes through these.

func dataBlob(data []byte) blob { return blob{bytesReaderAt(data), int64(len(data))} }

func testSession(o Options) *session {
	o = o.withDefaults()
	return &session{o: o, deadline: time.Now().Add(o.Timeout)}
}

// Sniff names the format recognised in data ("tar", "cpio", "zstd", ...).
func Sniff(data []byte) string { return sniff(dataBlob(data)).String() }

// IsCompressed tells a compressed stream's format.
func IsCompressed(data []byte) bool { return isCompressed(sniff(dataBlob(data))) }

// ReadCPIO, ReadTar and ReadZip list an archive's members.
func ReadCPIO(data []byte) *cpioArchive { return readCPIO(dataBlob(data)) }

func ReadTar(data []byte, o Options) *tarArchive {
	s := testSession(o)
	defer s.close()
	return s.readTar(dataBlob(data))
}

func ReadZip(data []byte) *zipArchive { return readZip(dataBlob(data)) }

// ZipData is where a zip member's stored bytes lie.
func ZipData(data []byte, m *zipMember) (off, n int64, err error) {
	d, off, err := zipData(dataBlob(data), m)
	return off, d.n, err
}

// Inflate decompresses data within o's bounds: the bytes it gave.
func Inflate(data []byte, o Options) int64 {
	s := testSession(o)
	defer s.close()
	return s.inflate(sniff(dataBlob(data)), dataBlob(data)).n
}

// ComparePE and CompareELF run one comparator alone.
func ComparePE(a, b []byte, o Options) {
	s := testSession(o)
	defer s.close()
	s.comparePE(nil, dataBlob(a), dataBlob(b), 0)
}

func CompareELF(a, b []byte, o Options) {
	s := testSession(o)
	defer s.close()
	s.compareELF(nil, dataBlob(a), dataBlob(b), 0)
}

// BinHeaderLen is the binary cpio header's length.
const BinHeaderLen = binHeaderLen

// CPIOHeaderOffsets lists where each header of a cpio archive starts,
// the trailer's included.
func CPIOHeaderOffsets(data []byte) ([]int64, error) {
	r := newCPIOReader(dataBlob(data))
	var out []int64
	for {
		off := r.off
		_, err := r.Next()
		if err != nil && err != io.EOF {
			return nil, err
		}
		out = append(out, off)
		if err == io.EOF {
			return out, nil
		}
	}
}

// Len is a blob's size.
func (b blob) Len() int64 { return b.n }
