package ext4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fsutil"
)

const rootIno = 2

// maxDirBytes bounds one directory's size (a directory of a million
// long names is well below it).
const maxDirBytes = 256 << 20

// dirent is one directory entry.
type dirent struct {
	name  string
	ino   uint32
	ftype byte // 0 when the filesystem has no filetype feature
}

// modeType is the entry type of i_mode.
func modeType(mode uint16) (fsys.EntryType, bool) {
	switch mode & modeTypeMask {
	case modeDir:
		return fsys.TypeDir, true
	case modeFile:
		return fsys.TypeFile, true
	case modeSymlink:
		return fsys.TypeSymlink, true
	case modeChar:
		return fsys.TypeChar, true
	case modeBlock:
		return fsys.TypeBlock, true
	case 0x1000:
		return fsys.TypeFIFO, true
	case 0xC000:
		return fsys.TypeSocket, true
	}
	return "", false
}

// direntType is the type a directory entry's file type byte names.
func direntType(t byte) (fsys.EntryType, bool) {
	types := [...]fsys.EntryType{1: fsys.TypeFile, 2: fsys.TypeDir, 3: fsys.TypeChar, 4: fsys.TypeBlock,
		5: fsys.TypeFIFO, 6: fsys.TypeSocket, 7: fsys.TypeSymlink}
	if int(t) < len(types) && types[t] != "" {
		return types[t], true
	}
	return "", false
}

// inline returns an inline-data inode's bytes: i_block, then the
// system.data extended attribute.
func (f *FS) inline(in *inode) ([]byte, error) {
	x, err := f.xattrs(in)
	if err != nil {
		return nil, err
	}
	b := append(bytes.Clone(in.iblock()), x["system.data"]...)
	if int64(len(b)) < in.size {
		return nil, fmt.Errorf("inode %d: inline data holds %d of %d bytes", in.ino, len(b), in.size)
	}
	return b[:in.size], nil
}

// reader returns a reader of the inode's content, exactly size bytes.
func (f *FS) reader(in *inode) (io.Reader, []extent, error) {
	if in.flags&flagInlineData != 0 {
		b, err := f.inline(in)
		return bytes.NewReader(b), nil, err
	}
	if in.size == 0 {
		return bytes.NewReader(nil), nil, nil
	}
	ext, err := f.mapping(in)
	if err != nil {
		return nil, nil, err
	}
	return &extentReader{r: f.r, img: f.size, bs: f.blockSize, ext: ext, size: in.size}, ext, nil
}

// readSmall reads a directory or symlink inode's whole content.
func (f *FS) readSmall(in *inode, max int64) ([]byte, error) {
	if in.size > max {
		return nil, fmt.Errorf("inode %d: size %d above the %d bytes allowed", in.ino, in.size, max)
	}
	r, _, err := f.reader(in)
	if err != nil {
		return nil, err
	}
	b := make([]byte, in.size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("inode %d: %w", in.ino, err)
	}
	return b, nil
}

// readDir lists a directory inode's entries (without "." and ".."),
// sorted by name.
func (f *FS) readDir(in *inode) ([]dirent, error) {
	var out []dirent
	if in.flags&flagInlineData != 0 {
		b, err := f.inline(in)
		if err != nil {
			return nil, err
		}
		if len(b) < 4 {
			return nil, fmt.Errorf("inode %d: inline directory of %d bytes", in.ino, len(b))
		}
		// i_block: the parent's inode number, then entries; the
		// system.data attribute holds more entries.
		head := min(len(b), 60)
		if err := f.parseDirBlock(b[4:head], &out); err != nil {
			return nil, fmt.Errorf("inode %d: %w", in.ino, err)
		}
		if err := f.parseDirBlock(b[head:], &out); err != nil {
			return nil, fmt.Errorf("inode %d: %w", in.ino, err)
		}
	} else {
		b, err := f.readSmall(in, min(maxDirBytes, f.size))
		if err != nil {
			return nil, err
		}
		for off := int64(0); off < int64(len(b)); off += f.blockSize {
			if err := f.parseDirBlock(b[off:min(off+f.blockSize, int64(len(b)))], &out); err != nil {
				return nil, fmt.Errorf("inode %d: directory block %d: %w", in.ino, off/f.blockSize, err)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	for i := 1; i < len(out); i++ {
		if out[i].name == out[i-1].name {
			return nil, fmt.Errorf("inode %d: name %q listed twice", in.ino, out[i].name)
		}
	}
	return out, nil
}

// parseDirBlock adds the entries of one directory block. Hashed
// directories read the same: their index blocks hold one empty entry
// spanning the block.
func (f *FS) parseDirBlock(b []byte, out *[]dirent) error {
	for pos := 0; pos+8 <= len(b); {
		ino := binary.LittleEndian.Uint32(b[pos:])
		rec := int(binary.LittleEndian.Uint16(b[pos+4:]))
		if f.blockSize == 65536 && (rec == 0 || rec == 65535) {
			rec = 65536
		}
		if rec < 8 || rec%4 != 0 || pos+rec > len(b) {
			return fmt.Errorf("bad record length %d at %d", rec, pos)
		}
		nameLen := int(binary.LittleEndian.Uint16(b[pos+6:]))
		var ftype byte
		if f.fileType {
			nameLen, ftype = int(b[pos+6]), b[pos+7]
		}
		if 8+nameLen > rec {
			return fmt.Errorf("name of %d bytes in a record of %d at %d", nameLen, rec, pos)
		}
		if ino != 0 {
			name := string(b[pos+8 : pos+8+nameLen])
			if name != "." && name != ".." {
				if err := fsys.ValidName(name); err != nil {
					return err
				}
				*out = append(*out, dirent{name: name, ino: ino, ftype: ftype})
			}
		}
		pos += rec
	}
	return nil
}

// entry builds the entry for inode ino at path p. An inode that cannot
// be read is returned as an entry with Damaged set (and ok false), so
// that the walk goes on and the damage is one difference on that path.
func (f *FS) entry(p string, ino uint32, ftype byte) (e *fsys.Entry, in *inode) {
	e = &fsys.Entry{Path: p, Handle: uint64(ino)}
	if t, ok := direntType(ftype); ok {
		e.Type = t
	} else {
		e.Type = fsys.TypeFile
	}
	in, err := f.readInode(ino)
	if err == nil {
		err = f.fill(e, in, ftype)
	}
	if err != nil {
		e.Damaged = err.Error()
		e.Extents = nil
		return e, nil
	}
	return e, in
}

func (f *FS) fill(e *fsys.Entry, in *inode, ftype byte) error {
	t, ok := modeType(in.mode)
	if !ok {
		return fmt.Errorf("inode %d: unknown file type in mode 0%o", in.ino, in.mode)
	}
	if want, ok := direntType(ftype); ok && want != t {
		return fmt.Errorf("inode %d: directory entry says %s, inode says %s", in.ino, want, t)
	}
	e.Type = t
	f.applyRaw(e, in.raw)
	x, err := f.xattrs(in)
	if err != nil {
		return err
	}
	delete(x, "system.data") // inline data, compared as content
	if len(x) > 0 {
		e.Xattrs = x
	}
	switch t {
	case fsys.TypeFile:
		e.Size = in.size
		if in.flags&flagInlineData == 0 && in.size > 0 {
			ext, err := f.mapping(in)
			if err != nil {
				return err
			}
			e.Extents = diskExtents(ext, f.blockSize, in.size)
		}
	case fsys.TypeSymlink:
		var target []byte
		if in.fastSymlink() {
			target = in.iblock()[:in.size]
		} else if target, err = f.readSmall(in, f.blockSize); err != nil {
			return err
		}
		e.Link = string(target)
		e.Size = int64(len(e.Link))
	case fsys.TypeChar, fsys.TypeBlock:
		ib := in.iblock()
		if old := binary.LittleEndian.Uint32(ib[0:]); old != 0 {
			e.Major, e.Minor = (old>>8)&0xff, old&0xff
		} else {
			v := binary.LittleEndian.Uint32(ib[4:])
			e.Major, e.Minor = (v&0xfff00)>>8, (v&0xff)|((v>>12)&0xfff00)
		}
	}
	return nil
}

// Walk implements fsys.FS. A damaged inode, or a directory whose
// listing cannot be read, is an entry with Damaged set; the walk does
// not descend into it and goes on with the rest of the tree.
func (f *FS) Walk(fn func(*fsys.Entry) error) error {
	return fsys.Walk[*inode, dirent](tree{f}, fn)
}

// tree is ext4's core of fsys.Walk: directories by inode.
type tree struct{ f *FS }

func (tree) Format() string { return "ext4" }

func (t tree) MaxEntries() int64 { return fsys.EntryBudget(t.f.size, 12) }

func (t tree) Root() (*fsys.Entry, *inode, fsys.DirKey, error) {
	root, in := t.f.entry("/", rootIno, 2)
	if in == nil {
		return nil, nil, fsys.DirKey{}, fmt.Errorf("ext4: root directory: %s", root.Damaged)
	}
	if root.Type != fsys.TypeDir {
		return nil, nil, fsys.DirKey{}, errors.New("ext4: root inode is not a directory")
	}
	return root, in, fsys.DirKey{N: rootIno}, nil
}

func (t tree) ReadDir(in *inode, p string, _ []dirent) ([]dirent, error) {
	ents, err := t.f.readDir(in)
	switch {
	case err != nil && p == "/":
		return nil, fmt.Errorf("ext4: root directory: %w", err)
	case err != nil:
		return nil, &fsys.DamagedError{Why: "directory " + err.Error()}
	}
	return ents, nil
}

func (tree) Name(d dirent) string { return d.name }

func (t tree) Entry(p string, d dirent) (*fsys.Entry, *inode, fsys.DirKey, error) {
	e, in := t.f.entry(p, d.ino, d.ftype)
	if in == nil || e.Type != fsys.TypeDir {
		return e, nil, fsys.DirKey{}, nil
	}
	return e, in, fsys.DirKey{N: uint64(d.ino)}, nil
}

// lookup resolves a "/"-rooted path to its inode.
func (f *FS) lookup(p string) (*inode, error) {
	in, err := f.readInode(rootIno)
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" {
			continue
		}
		if in.typ() != modeDir {
			return nil, fmt.Errorf("%s: not a directory on the way", p)
		}
		ents, err := f.readDir(in)
		if err != nil {
			return nil, err
		}
		i := sort.Search(len(ents), func(i int) bool { return ents[i].name >= name })
		if i == len(ents) || ents[i].name != name {
			return nil, fmt.Errorf("%s: no such file", p)
		}
		if in, err = f.readInode(ents[i].ino); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Open implements fsys.FS.
func (f *FS) Open(p string) (io.ReadCloser, error) {
	in, err := f.lookup(p)
	if err != nil {
		return nil, fmt.Errorf("ext4: %w", err)
	}
	return f.open(p, in)
}

// OpenEntry implements fsys.EntryOpener.
func (f *FS) OpenEntry(e *fsys.Entry) (io.ReadCloser, error) {
	if e.Handle == 0 || e.Handle > uint64(f.inodesCount) {
		return f.Open(e.Path)
	}
	in, err := f.readInode(uint32(e.Handle))
	if err != nil {
		return nil, fmt.Errorf("ext4: %s: %w", e.Path, err)
	}
	return f.open(e.Path, in)
}

func (f *FS) open(p string, in *inode) (io.ReadCloser, error) {
	if in.typ() != modeFile {
		return nil, fmt.Errorf("ext4: %s is not a regular file", p)
	}
	r, _, err := f.reader(in)
	if err != nil {
		return nil, fmt.Errorf("ext4: %s: %w", p, err)
	}
	return &fsutil.LimitedFile{R: r, Size: in.size, What: "ext4: " + p}, nil
}
