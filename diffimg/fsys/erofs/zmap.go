package erofs

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/pierrec/lz4/v4"
)

// lcluster types, from the low two bits of an index's advise field.
const (
	lclPlain   = 0
	lclHead1   = 1
	lclNonhead = 2
	lclHead2   = 3
)

// Per-inode compression advise bits (map header h_advise).
const (
	adviseCompacted2B  = 0x01 // compact layout; for full indexes: new extent records
	adviseBigPcluster1 = 0x02
	adviseBigPcluster2 = 0x04
	adviseInlinePcl    = 0x08 // ztailpacking
	adviseInterlaced   = 0x10
	adviseFragmentPcl  = 0x20
)

const (
	d0Cblkcnt      = 1 << 11 // NONHEAD delta[0]: compressed block count follows
	maxPclusterLen = 1 << 20 // Z_EROFS_PCLUSTER_MAX_SIZE
	maxExtentLen   = 16 << 20
)

// lcl is one decoded logical-cluster index.
type lcl struct {
	typ        uint8
	clusterofs int64  // HEAD/PLAIN: where the extent starts inside the lcluster
	pblk       uint64 // HEAD/PLAIN: first block of the pcluster
	cblk       int64  // NONHEAD with the CBLKCNT flag: compressed blocks
	hasCblk    bool
}

// zinfo is the decoded compression map of one inode.
type zinfo struct {
	img   *image
	ino   *inode
	depth int // 0 for a file, 1 for the packed inode read for a fragment

	compact       bool
	advise        uint16
	algs          [2]uint8
	lbits         uint
	total         int64 // lcluster count
	ebase         int64 // start of the index area
	init4b, c2b   int64
	wholeFragment bool
	fragOff       uint64
	idataSize     int64
	tailOff       int64

	packStart int64
	packN     int
	pack      [16]lcl

	// idx holds index bytes from idxOff, read up to maxIndexRead at a
	// time (indexBytes): one read for a file's indexes, not one per pack.
	idxOff, idxEnd int64
	idx            []byte
}

// maxIndexRead bounds one read of a file's compression indexes: a 4 GiB
// file of 4 KiB lclusters has 2-8 MiB of them.
const maxIndexRead = 64 << 10

// indexBytes returns the n index bytes at off (inside the index area,
// which zinfo checked lies in the image).
func (z *zinfo) indexBytes(off, n int64) ([]byte, error) {
	if off < z.idxOff || off+n > z.idxOff+int64(len(z.idx)) {
		end := max(off+n, min(z.idxEnd, off+maxIndexRead))
		b, err := z.img.readAt(off, end-off)
		if err != nil {
			return nil, err
		}
		z.idxOff, z.idx = off, b
	}
	return z.idx[off-z.idxOff : off-z.idxOff+n], nil
}

func (img *image) zinfo(ino *inode, depth int) (*zinfo, error) {
	z := &zinfo{img: img, ino: ino, depth: depth, compact: ino.layout == layoutCompressedComp, packStart: -1}
	hpos := (ino.dataOff() + 7) &^ 7
	h, err := img.readAt(hpos, 8)
	if err != nil {
		return nil, fmt.Errorf("inode %d map header: %w", ino.nid, err)
	}
	le := binary.LittleEndian
	if h[7]&0x80 != 0 {
		z.wholeFragment = true
		z.fragOff = le.Uint64(h) &^ (1 << 63)
		return z, z.checkFragment()
	}
	z.advise = le.Uint16(h[4:])
	z.algs = [2]uint8{h[6] & 15, h[6] >> 4}
	z.lbits = img.blkbits + uint(h[7]&15)
	z.ebase = hpos + 8
	if !z.compact {
		// Full indexes follow the map header and 8 bytes of padding.
		z.ebase += 8
	}
	if !z.compact && z.advise&adviseCompacted2B != 0 {
		return nil, fmt.Errorf("erofs: inode %d: extent-record compression indexes are not supported", ino.nid)
	}
	if z.lbits > 20 || (z.compact && z.lbits > 14) {
		return nil, corruptf("inode %d: lcluster size 2^%d unsupported", ino.nid, z.lbits)
	}
	if z.advise&(adviseBigPcluster1|adviseBigPcluster2) != 0 && img.sb.featureIncompat&incompatBigPcluster == 0 {
		return nil, corruptf("inode %d: big pcluster without the superblock feature", ino.nid)
	}
	if z.compact && (z.advise&adviseBigPcluster1 == 0) != (z.advise&adviseBigPcluster2 == 0) {
		return nil, corruptf("inode %d: inconsistent big pcluster flags", ino.nid)
	}
	z.total = (ino.size-1)>>z.lbits + 1
	if z.total > img.size/2 {
		return nil, corruptf("inode %d: %d lclusters cannot fit the image", ino.nid, z.total)
	}
	if z.compact {
		z.init4b = ((32 - z.ebase%32) / 4) & 7
		if z.advise&adviseCompacted2B != 0 && z.init4b < z.total {
			z.c2b = (z.total - z.init4b) / 16 * 16
		}
		if z.c2b > 0 && z.lbits > 12 {
			return nil, corruptf("inode %d: 2B compact indexes with lcluster 2^%d", ino.nid, z.lbits)
		}
	}
	// The whole index area must be inside the image; the tail pcluster
	// (ztailpacking) starts right after the pack holding the last index.
	end := z.nextPackOff(z.total - 1)
	if err := img.check(z.ebase, end-z.ebase); err != nil {
		return nil, fmt.Errorf("inode %d compression indexes: %w", ino.nid, err)
	}
	z.idxEnd = end
	switch {
	case z.advise&adviseFragmentPcl != 0:
		z.fragOff = uint64(le.Uint32(h[0:]))
		if err := z.checkFragment(); err != nil {
			return nil, err
		}
	case z.advise&adviseInlinePcl != 0:
		z.idataSize = int64(le.Uint16(h[2:]))
		z.tailOff = end
		if z.idataSize == 0 || z.tailOff&(img.blksz-1)+z.idataSize > img.blksz {
			return nil, corruptf("inode %d: invalid tail-packing pcluster size %d", ino.nid, z.idataSize)
		}
		if err := img.check(z.tailOff, z.idataSize); err != nil {
			return nil, fmt.Errorf("inode %d tail pcluster: %w", ino.nid, err)
		}
	}
	return z, nil
}

func (z *zinfo) checkFragment() error {
	if z.depth > 0 {
		return corruptf("packed inode %d itself uses fragments", z.ino.nid)
	}
	_, err := z.img.packedInode()
	return err
}

// compactPos returns where lcluster lcn's compact index lives, the pack
// size in entries, and log2 of the amortized bytes per entry.
func (z *zinfo) compactPos(lcn int64) (pos int64, vcnt int, shift uint) {
	pos, shift = z.ebase, 2
	if lcn >= z.init4b {
		pos += z.init4b * 4
		lcn -= z.init4b
		if lcn < z.c2b {
			shift = 1
		} else {
			pos += z.c2b * 2
			lcn -= z.c2b
		}
	}
	pos += lcn << shift
	vcnt = 2
	if shift == 1 {
		vcnt = 16
	}
	return pos, vcnt, shift
}

func (z *zinfo) nextPackOff(lcn int64) int64 {
	if !z.compact {
		return z.ebase + (lcn+1)*8
	}
	pos, vcnt, shift := z.compactPos(lcn)
	bytes := int64(vcnt) << shift
	return pos&^(bytes-1) + bytes
}

func (z *zinfo) get(lcn int64) (lcl, error) {
	if lcn < 0 || lcn >= z.total {
		return lcl{}, corruptf("inode %d: lcluster %d out of range", z.ino.nid, lcn)
	}
	if z.compact {
		return z.getCompact(lcn)
	}
	b, err := z.indexBytes(z.ebase+lcn*8, 8)
	if err != nil {
		return lcl{}, err
	}
	le := binary.LittleEndian
	e := lcl{typ: uint8(le.Uint16(b) & 3)}
	if e.typ == lclNonhead {
		d0 := le.Uint16(b[4:])
		if d0&d0Cblkcnt != 0 {
			if z.advise&(adviseBigPcluster1|adviseBigPcluster2) == 0 {
				return lcl{}, corruptf("inode %d: CBLKCNT without big pcluster", z.ino.nid)
			}
			e.cblk, e.hasCblk = int64(d0&^d0Cblkcnt), true
		}
		return e, nil
	}
	e.clusterofs = int64(le.Uint16(b[2:]))
	if e.clusterofs >= int64(1)<<z.lbits {
		return lcl{}, corruptf("inode %d: cluster offset %d beyond the lcluster", z.ino.nid, e.clusterofs)
	}
	e.pblk = uint64(le.Uint32(b[4:]))
	return e, nil
}

func (z *zinfo) getCompact(lcn int64) (lcl, error) {
	pos, vcnt, shift := z.compactPos(lcn)
	bytes := int64(vcnt) << shift
	start := pos &^ (bytes - 1)
	i := int((pos - start) >> shift)
	if start == z.packStart && z.packN == vcnt {
		return z.pack[i], nil
	}
	b, err := z.indexBytes(start, bytes)
	if err != nil {
		return lcl{}, err
	}
	lobits := z.lbits
	if lobits < 12 {
		lobits = 12
	}
	encodebits := (int(bytes) - 4) * 8 / vcnt
	base := uint64(binary.LittleEndian.Uint32(b[bytes-4:]))
	big := z.advise&adviseBigPcluster1 != 0
	var raw [16]struct {
		typ uint8
		lo  int64
	}
	for j := 0; j < vcnt; j++ {
		bit := encodebits * j
		var w [4]byte
		copy(w[:], b[bit/8:])
		v := binary.LittleEndian.Uint32(w[:]) >> (bit & 7)
		raw[j].typ = uint8(v>>lobits) & 3
		raw[j].lo = int64(v & (1<<lobits - 1))
	}
	// Heads take their block address from the pack base plus the blocks of
	// the pclusters accounted before them in this pack: one block per head
	// (non-big pclusters count from base+1), or the CBLKCNT of the
	// NONHEAD that follows a head for big pclusters.
	nblk := uint64(1)
	if big {
		nblk = 0
	}
	for j := 0; j < vcnt; j++ {
		e := lcl{typ: raw[j].typ}
		lo := raw[j].lo
		if e.typ == lclNonhead {
			if lo&d0Cblkcnt != 0 {
				if !big {
					return lcl{}, corruptf("inode %d: CBLKCNT without big pcluster", z.ino.nid)
				}
				e.cblk, e.hasCblk = lo&^d0Cblkcnt, true
				nblk += uint64(e.cblk)
			}
		} else {
			if lo >= int64(1)<<z.lbits {
				return lcl{}, corruptf("inode %d: cluster offset %d beyond the lcluster", z.ino.nid, lo)
			}
			e.clusterofs = lo
			e.pblk = base + nblk
			if !big || j+1 >= vcnt || raw[j+1].typ != lclNonhead || raw[j+1].lo&d0Cblkcnt == 0 {
				nblk++
			}
		}
		z.pack[j] = e
	}
	z.packStart, z.packN = start, vcnt
	return z.pack[i], nil
}

// zext is one extent: decompressed bytes [la, end) from one pcluster.
type zext struct {
	la, end int64
	head    int64 // lcluster holding the extent's HEAD index
	e       lcl
	next    int64 // lcluster of the next HEAD, or -1 for the last extent
}

func (z *zinfo) maxSteps() int64 { return maxExtentLen>>z.lbits + 2 }

// find returns the extent holding logical byte off.
func (z *zinfo) find(off int64) (*zext, error) {
	if z.wholeFragment {
		return &zext{la: 0, end: z.ino.size, next: -1}, nil
	}
	h := off >> z.lbits
	e, err := z.get(h)
	if err != nil {
		return nil, err
	}
	if e.typ == lclNonhead || off&(int64(1)<<z.lbits-1) < e.clusterofs {
		for steps := int64(0); ; steps++ {
			if h == 0 || steps > z.maxSteps() {
				return nil, corruptf("inode %d: no HEAD lcluster before offset %d", z.ino.nid, off)
			}
			h--
			if e, err = z.get(h); err != nil {
				return nil, err
			}
			if e.typ != lclNonhead {
				break
			}
		}
	}
	return z.extentAt(h, e)
}

// extentAt builds the extent whose HEAD index is at lcluster h.
func (z *zinfo) extentAt(h int64, e lcl) (*zext, error) {
	x := &zext{la: h<<z.lbits + e.clusterofs, head: h, e: e, next: -1, end: z.ino.size}
	for l := h + 1; l < z.total; l++ {
		if l-h > z.maxSteps() {
			return nil, corruptf("inode %d: extent at lcluster %d too long", z.ino.nid, h)
		}
		n, err := z.get(l)
		if err != nil {
			return nil, err
		}
		if n.typ != lclNonhead {
			if s := l<<z.lbits + n.clusterofs; s < z.ino.size {
				x.end, x.next = s, l
			}
			break
		}
	}
	if x.la >= x.end {
		return nil, corruptf("inode %d: empty or backward extent at lcluster %d", z.ino.nid, h)
	}
	if x.end-x.la > maxExtentLen {
		return nil, corruptf("inode %d: extent of %d bytes", z.ino.nid, x.end-x.la)
	}
	return x, nil
}

func (z *zinfo) nextExtent(x *zext) (*zext, error) {
	if x.next < 0 {
		return nil, io.EOF
	}
	e, err := z.get(x.next)
	if err != nil {
		return nil, err
	}
	return z.extentAt(x.next, e)
}

// isFragment reports whether the extent's data is in the packed inode.
func (z *zinfo) isFragment(x *zext) bool {
	return z.wholeFragment || (x.next < 0 && z.advise&adviseFragmentPcl != 0)
}

func (z *zinfo) fragmentOffset(x *zext) uint64 {
	if !z.wholeFragment && !z.compact {
		// Full indexes keep the high 32 bits in the tail HEAD's blkaddr.
		return z.fragOff | x.e.pblk<<32
	}
	return z.fragOff
}

// pcluster returns the byte range of the extent's compressed data.
func (z *zinfo) pcluster(x *zext) (int64, int64, error) {
	if x.next < 0 && z.idataSize > 0 {
		return z.tailOff, z.idataSize, nil
	}
	typ := x.e.typ
	blocks := int64(1)
	big1 := z.advise&adviseBigPcluster1 != 0
	big2 := z.advise&adviseBigPcluster2 != 0
	if !((typ == lclHead1 && !big1) || ((typ == lclPlain || typ == lclHead2) && !big2) ||
		(x.head+1)<<z.lbits >= z.ino.size) {
		n, err := z.get(x.head + 1)
		if err != nil {
			return 0, 0, err
		}
		if n.typ == lclNonhead && n.hasCblk && n.cblk > 0 {
			blocks = n.cblk
		}
	}
	pa, err := z.img.blkpos(x.e.pblk)
	if err != nil {
		return 0, 0, fmt.Errorf("inode %d: %w", z.ino.nid, err)
	}
	plen := blocks << z.img.blkbits
	if plen > maxPclusterLen {
		return 0, 0, corruptf("inode %d: pcluster of %d bytes", z.ino.nid, plen)
	}
	if err := z.img.check(pa, plen); err != nil {
		return 0, 0, fmt.Errorf("inode %d pcluster: %w", z.ino.nid, err)
	}
	return pa, plen, nil
}

// decompress returns the extent's decompressed bytes.
func (z *zinfo) decompress(x *zext) ([]byte, error) {
	pa, plen, err := z.pcluster(x)
	if err != nil {
		return nil, err
	}
	llen := x.end - x.la
	in, err := z.img.readAt(pa, plen)
	if err != nil {
		return nil, err
	}
	switch x.e.typ {
	case lclPlain:
		if llen > plen {
			return nil, corruptf("inode %d: plain extent of %d bytes in a %d-byte pcluster", z.ino.nid, llen, plen)
		}
		if z.advise&adviseInterlaced == 0 {
			return in[:llen], nil
		}
		out := make([]byte, llen)
		shift := x.la & (z.img.blksz - 1) % plen
		n := copy(out, in[shift:])
		copy(out[n:], in)
		return out, nil
	case lclHead1, lclHead2:
		alg := z.algs[0]
		if x.e.typ == lclHead2 {
			alg = z.algs[1]
		}
		if alg != 0 {
			name := fmt.Sprintf("algorithm %d", alg)
			if int(alg) < len(algNames) {
				name = algNames[alg]
			}
			return nil, fmt.Errorf("erofs: inode %d: %s compression is not supported", z.ino.nid, name)
		}
		return z.lz4(in, llen)
	}
	return nil, corruptf("inode %d: HEAD of type %d", z.ino.nid, x.e.typ)
}

func (z *zinfo) lz4(in []byte, llen int64) ([]byte, error) {
	if z.img.sb.featureIncompat&incompatZeroPadding == 0 {
		out := make([]byte, llen)
		n, err := lz4Prefix(in, out)
		if err != nil || int64(n) != llen {
			return nil, corruptf("inode %d: lz4 pcluster decompressed to %d bytes, want %d (%v)", z.ino.nid, n, llen, err)
		}
		return out, nil
	}
	// With 0PADDING the compressed stream ends at the pcluster's end and
	// is preceded by zeros in its first block.
	i := 0
	for i < len(in) && int64(i) < z.img.blksz && in[i] == 0 {
		i++
	}
	in = in[i:]
	if len(in) == 0 || int64(i) == z.img.blksz {
		return nil, corruptf("inode %d: empty lz4 pcluster", z.ino.nid)
	}
	out := make([]byte, llen)
	n, err := lz4.UncompressBlock(in, out)
	if err != nil {
		// A partially referenced pcluster (dedupe) decompresses to more
		// than this extent uses: decode into a bound-sized buffer and keep
		// the prefix. lz4 cannot expand more than 255 times.
		max := int64(len(in))*255 + 64
		if max > maxExtentLen {
			max = maxExtentLen
		}
		if max <= llen {
			return nil, corruptf("inode %d: lz4: %v", z.ino.nid, err)
		}
		big := make([]byte, max)
		n, err = lz4.UncompressBlock(in, big)
		if err != nil {
			return nil, corruptf("inode %d: lz4: %v", z.ino.nid, err)
		}
		if int64(n) < llen {
			return nil, corruptf("inode %d: lz4 pcluster decompressed to %d bytes, want %d", z.ino.nid, n, llen)
		}
		return big[:llen], nil
	}
	if int64(n) != llen {
		return nil, corruptf("inode %d: lz4 pcluster decompressed to %d bytes, want %d", z.ino.nid, n, llen)
	}
	return out, nil
}

// zReader returns a reader of the compressed inode's bytes [start, start+n).
func (img *image) zReader(ino *inode, start, n int64, depth int) (io.Reader, error) {
	z, err := img.zinfo(ino, depth)
	if err != nil {
		return nil, err
	}
	if start < 0 || n < 0 || start > ino.size || n > ino.size-start {
		return nil, corruptf("inode %d: range [%d,+%d) beyond size %d", ino.nid, start, n, ino.size)
	}
	return &zreader{z: z, pos: start, end: start + n}, nil
}

type zreader struct {
	z        *zinfo
	pos, end int64
	x        *zext
	data     []byte    // decompressed extent
	sub      io.Reader // fragment data from the packed inode
}

func (r *zreader) Read(p []byte) (int, error) {
	for {
		if r.pos >= r.end {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if r.x != nil && r.pos >= r.x.la && r.pos < r.x.end {
			lim := min(r.x.end, r.end) - r.pos
			if int64(len(p)) > lim {
				p = p[:lim]
			}
			if r.sub != nil {
				n, err := r.sub.Read(p)
				r.pos += int64(n)
				if err == io.EOF {
					if n == 0 {
						return 0, corruptf("inode %d: fragment data ends early", r.z.ino.nid)
					}
					err = nil
				}
				return n, err
			}
			n := copy(p, r.data[r.pos-r.x.la:])
			r.pos += int64(n)
			return n, nil
		}
		if err := r.load(); err != nil {
			return 0, err
		}
	}
}

func (r *zreader) load() error {
	var x *zext
	var err error
	if r.x != nil && r.pos == r.x.end && r.x.next >= 0 {
		x, err = r.z.nextExtent(r.x)
	} else {
		x, err = r.z.find(r.pos)
	}
	if err != nil {
		if err == io.EOF {
			return corruptf("inode %d: no extent for offset %d", r.z.ino.nid, r.pos)
		}
		return err
	}
	if r.pos < x.la || r.pos >= x.end {
		return corruptf("inode %d: extent [%d,%d) does not hold offset %d", r.z.ino.nid, x.la, x.end, r.pos)
	}
	r.x, r.data, r.sub = x, nil, nil
	if r.z.isFragment(x) {
		off := r.z.fragmentOffset(x) + uint64(r.pos-x.la)
		r.sub, err = r.z.img.packedRange(off, min(x.end, r.end)-r.pos)
		return err
	}
	r.data, err = r.z.decompress(x)
	if err == nil && int64(len(r.data)) != x.end-x.la {
		err = corruptf("inode %d: extent decoded to %d bytes", r.z.ino.nid, len(r.data))
	}
	return err
}

// packedRange returns a reader of n bytes at off in the packed inode.
func (img *image) packedRange(off uint64, n int64) (io.Reader, error) {
	pk, err := img.packedInode()
	if err != nil {
		return nil, err
	}
	if off > uint64(pk.size) || n > pk.size-int64(off) {
		return nil, corruptf("fragment [%d,+%d) beyond the %d-byte packed inode", off, n, pk.size)
	}
	start := int64(off)
	switch pk.layout {
	case layoutCompressedFull, layoutCompressedComp:
		return img.zReader(pk, start, n, 1)
	case layoutFlatPlain, layoutFlatInline:
		ext, err := img.flatExtents(pk)
		if err != nil {
			return nil, err
		}
		var rs []io.Reader
		pos := int64(0)
		for _, e := range ext {
			lo, hi := max(start, pos), min(start+n, pos+e.Length)
			if lo < hi {
				rs = append(rs, io.NewSectionReader(img.r, e.Offset+lo-pos, hi-lo))
			}
			pos += e.Length
		}
		return io.MultiReader(rs...), nil
	}
	r, err := img.content(pk)
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, r, start); err != nil {
		return nil, err
	}
	return io.LimitReader(r, n), nil
}

// zExtents lists the pclusters a compressed file's data lives in (the
// compressed bytes, merged when adjacent); fragment data lives in the
// packed inode and is not listed.
func (img *image) zExtents(ino *inode) ([]fsys.Extent, error) {
	if ino.size == 0 {
		return nil, nil
	}
	z, err := img.zinfo(ino, 0)
	if err != nil {
		return nil, err
	}
	var out []fsys.Extent
	lastPa := int64(-1)
	x, err := z.find(0)
	for err == nil {
		if !z.isFragment(x) {
			pa, plen, perr := z.pcluster(x)
			if perr != nil {
				return nil, perr
			}
			if pa != lastPa {
				out = appendExtent(out, pa, plen)
				lastPa = pa
			}
		}
		x, err = z.nextExtent(x)
	}
	if err != io.EOF {
		return nil, err
	}
	return out, nil
}
