package erofs

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/org/immutos-action/diffimg/fsys"
)

// SameStored implements fsys.StoredComparer for compressed files. A
// pcluster decodes to a function of its stored bytes, its type and
// algorithm, the extent's logical range and the image's block size and
// 0PADDING feature. So when both files' compression maps cut the same
// logical extents, of the same types, and an extent's pclusters hold the
// same bytes on both sides, that extent is equal without decoding; only
// extents whose stored bytes differ are decoded and compared. A file
// whose data moved because a file before it changed size then costs a
// comparison of its compressed bytes.
//
// A tail-packed pcluster (ztailpacking) is compared the same way, its
// stored bytes read where the inode keeps them. Fragment data (in the
// packed inode) is decoded from there on both sides and compared: it is
// at most a file's tail or a small file, and a moved fragment sits at
// another offset of another packed inode.
//
// It cannot tell (fsys.ErrNotStored) for uncompressed files (nothing to
// save), images of another block size or padding feature, maps with
// another algorithm, lcluster size or advise bits, and maps that cut the
// file into other extents: the plain reader judges those. Equal stored
// bytes count as equal content even when they would not decode (the
// same as a file whose pclusters did not move, which is not read at all).
func (img *image) SameStored(a *fsys.Entry, other fsys.FS, b *fsys.Entry) (bool, error) {
	if a.Size != b.Size {
		return false, nil
	}
	o, ok := other.(*image)
	if !ok || o.blkbits != img.blkbits || (o.sb.featureIncompat^img.sb.featureIncompat)&incompatZeroPadding != 0 {
		return false, fsys.ErrNotStored
	}
	// z and x: both files' maps and the extents compared, a's first.
	var z [2]*zinfo
	var x [2]*zext
	var err error
	for i, side := range [2]struct {
		img *image
		e   *fsys.Entry
	}{{img, a}, {o, b}} {
		if z[i], err = side.img.storedMap(side.e); err != nil {
			return false, err
		}
		if x[i], err = z[i].find(0); err != nil {
			return false, err
		}
	}
	if z[0].advise != z[1].advise || z[0].algs != z[1].algs || z[0].lbits != z[1].lbits {
		return false, fsys.ErrNotStored
	}
	buf := pairs.Get().(*pclusterPair)
	defer pairs.Put(buf)
	buf.wa = window{extents: a.Extents, data: buf.wa.data[:0]}
	buf.wb = window{extents: b.Extents, data: buf.wb.data[:0]}
	for {
		if x[0].la != x[1].la || x[0].end != x[1].end || x[0].e.typ != x[1].e.typ {
			return false, fsys.ErrNotStored // another cut: the plain reader judges
		}
		if same, err := buf.sameExtent(z[0], x[0], z[1], x[1]); !same || err != nil {
			return false, err
		}
		na, erra := z[0].nextExtent(x[0])
		nb, errb := z[1].nextExtent(x[1])
		switch {
		case erra == io.EOF && errb == io.EOF:
			return true, nil
		case erra == io.EOF || errb == io.EOF:
			return false, fsys.ErrNotStored
		case erra != nil:
			return false, erra
		case errb != nil:
			return false, errb
		}
		x = [2]*zext{na, nb}
	}
}

// storedMap returns the compression map of the regular file e, or
// ErrNotStored when it is not compressed.
func (img *image) storedMap(e *fsys.Entry) (*zinfo, error) {
	ino, err := img.inode(e.Handle)
	if err != nil {
		return nil, err
	}
	if ino.mode&sIFMT != sIFREG || ino.size != e.Size || ino.size == 0 ||
		(ino.layout != layoutCompressedFull && ino.layout != layoutCompressedComp) {
		return nil, fsys.ErrNotStored
	}
	return img.zinfo(ino, 0)
}

// pclusterPair holds the stored bytes of the two files being compared,
// read ahead a window at a time, and buffers for their decoded bytes.
type pclusterPair struct {
	wa, wb window
	a, b   []byte
}

// pairs keeps pclusterPairs and their buffers from one SameStored call
// to the next (the engine asks about every moved file, from two
// goroutines).
var pairs = sync.Pool{New: func() any { return new(pclusterPair) }}

// maxWindow is how much of a file's stored bytes one read fetches: a
// file's pclusters follow each other, and one pread per pcluster (4 KiB
// with mkfs.erofs's defaults) cost more than comparing them.
const maxWindow = 256 << 10

// window serves reads of one file's stored bytes from a buffer filled
// up to maxWindow at a time, never past the end of the file's extent
// (fsys.Entry.Extents: its pclusters, merged when adjacent) that holds
// the read, so a small file costs no more than its own bytes.
type window struct {
	extents []fsys.Extent
	off     int64
	data    []byte
}

func (w *window) read(img *image, off, n int64) ([]byte, error) {
	if off >= w.off && off+n <= w.off+int64(len(w.data)) {
		return w.data[off-w.off : off-w.off+n], nil
	}
	end := off + n
	for _, x := range w.extents {
		if off >= x.Offset && off < x.Offset+x.Length {
			end = max(end, min(x.Offset+x.Length, off+maxWindow))
			break
		}
	}
	if err := img.check(off, end-off); err != nil {
		return nil, err
	}
	w.off, w.data = off, grow(w.data, end-off)
	if _, err := img.r.ReadAt(w.data, off); err != nil {
		w.data = w.data[:0]
		return nil, fmt.Errorf("erofs: read pcluster at %d: %w", off, err)
	}
	return w.data[:n], nil
}

// sameExtent says whether extents xa of za and xb of zb, which cover the
// same logical range with the same type, hold the same bytes: without
// decoding when their pclusters hold the same stored bytes.
func (p *pclusterPair) sameExtent(za *zinfo, xa *zext, zb *zinfo, xb *zext) (bool, error) {
	if za.isFragment(xa) || zb.isFragment(xb) {
		return p.sameBytes(za, xa, zb, xb)
	}
	pa, la, err := za.pcluster(xa)
	if err != nil {
		return false, err
	}
	pb, lb, err := zb.pcluster(xb)
	if err != nil {
		return false, err
	}
	if la == lb {
		sa, err := p.wa.read(za.img, pa, la)
		if err != nil {
			return false, err
		}
		sb, err := p.wb.read(zb.img, pb, lb)
		if err != nil {
			return false, err
		}
		if bytes.Equal(sa, sb) {
			return true, nil
		}
	}
	da, err := decodeExtent(za, xa)
	if err != nil {
		return false, err
	}
	db, err := decodeExtent(zb, xb)
	return err == nil && bytes.Equal(da, db), err
}

// sameBytes compares extents xa and xb (of the same length) by their
// bytes, streamed: fragment data from the packed inode (a whole file can
// be one fragment), other extents decoded.
func (p *pclusterPair) sameBytes(za *zinfo, xa *zext, zb *zinfo, xb *zext) (bool, error) {
	ra, err := extentReader(za, xa)
	if err != nil {
		return false, err
	}
	rb, err := extentReader(zb, xb)
	if err != nil {
		return false, err
	}
	const chunk = 64 << 10
	p.a, p.b = grow(p.a, chunk), grow(p.b, chunk)
	for n := xa.end - xa.la; n > 0; {
		k := min(n, chunk)
		if _, err := io.ReadFull(ra, p.a[:k]); err != nil {
			return false, corruptf("inode %d: extent data: %v", za.ino.nid, err)
		}
		if _, err := io.ReadFull(rb, p.b[:k]); err != nil {
			return false, corruptf("inode %d: extent data: %v", zb.ino.nid, err)
		}
		if !bytes.Equal(p.a[:k], p.b[:k]) {
			return false, nil
		}
		n -= k
	}
	return true, nil
}

// extentReader reads extent x of z: from the packed inode for fragment
// data, else decoded from its pcluster.
func extentReader(z *zinfo, x *zext) (io.Reader, error) {
	if z.isFragment(x) {
		return z.img.packedRange(z.fragmentOffset(x), x.end-x.la)
	}
	d, err := decodeExtent(z, x)
	return bytes.NewReader(d), err
}

// decodeExtent decodes extent x of z, counting the pcluster decoded.
func decodeExtent(z *zinfo, x *zext) ([]byte, error) {
	z.img.decoded.Add(1)
	d, err := z.decompress(x)
	if err == nil && int64(len(d)) != x.end-x.la {
		err = corruptf("inode %d: extent decoded to %d bytes", z.ino.nid, len(d))
	}
	return d, err
}

// grow returns b resized to n bytes, reusing its array when it is large
// enough (n is at most maxPclusterLen, checked by pcluster, or maxWindow).
func grow(b []byte, n int64) []byte {
	if int64(cap(b)) < n {
		return make([]byte, n)
	}
	return b[:n]
}
