package explain

// What the filesystem and partition-table comparisons need to explain
// their differences: per-format field, time and attribute hints, and the
// causes that follow from where data lies. The engine names the format
// and the field; the knowledge is here.

import (
	"fmt"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

// TableFieldHint names the fix for a differing partition-table field
// (GPT header and entries, the MBR), or "" when nothing specific is known.
func TableFieldHint(name string, class report.Class) string {
	switch {
	case strings.HasSuffix(name, "crc32"):
		return "a checksum over other fields: it follows from the differences listed beside it"
	case class == report.ClassUUID && strings.Contains(name, "guid"):
		return "GPT GUIDs are random unless seeded: set systemd-repart --seed (image.repart.seed in NixOS), or sfdisk/sgdisk with fixed GUIDs"
	case name == "mbr.disk-signature":
		return "the MBR disk signature is random unless set: sfdisk --disk-id, or systemd-repart --seed"
	}
	return ""
}

// FieldHint names the concrete fix for a differing superblock field of
// a filesystem (fsName as fsys names it), or "" when nothing specific is
// known.
func FieldHint(fsName, field string, class report.Class) string {
	f := strings.ToLower(field)
	switch fsName {
	case "vfat":
		switch {
		case strings.Contains(f, "serial"):
			return "the vfat volume serial is random unless fixed: systemd-repart --seed (image.repart.seed), or `mkfs.vfat -i XXXXXXXX`"
		case strings.HasPrefix(f, "root-dir-label-") && class == report.ClassTimestamp:
			return labelTimeHint
		case strings.Contains(f, "label"):
			return "set the label explicitly: `mkfs.vfat -n LABEL` / Label= in the repart definition"
		case f == "fat-copies-identical":
			return "the FAT copies of one image disagree: some tool wrote only the first FAT, or the image was changed after it was made; run `fsck.vfat -n` on it"
		case f == "backup-boot-sector-identical":
			return "the FAT32 backup boot sector no longer matches the boot sector in one image: a tool rewrote only the primary (a label or serial change), or the image was changed after it was made"
		}
	case "squashfs":
		if class == report.ClassTimestamp {
			return "set SOURCE_DATE_EPOCH, or `mksquashfs -mkfs-time N -all-time N`"
		}
	case "erofs":
		if class == report.ClassUUID {
			return "fix the erofs UUID: `mkfs.erofs -U <uuid>` (systemd-repart derives it from --seed)"
		}
		if class == report.ClassTimestamp {
			return "fix erofs times: `mkfs.erofs -T N` or SOURCE_DATE_EPOCH"
		}
	case "ext4":
		switch {
		case f == "kbytes-written", f == "mount-count", f == "last-mounted-on", f == "state":
			return "the kernel updates this field when the filesystem is mounted read-write (files copied into a mounted image): populate it without mounting (`mkfs.ext4 -d DIR`), or never mount it read-write after mkfs"
		case f == "hash-seed":
			return "the directory hash seed is random unless fixed: `mkfs.ext4 -E hash_seed=<uuid>` (systemd-repart 252 derives the UUID from --seed but passes no hash seed)"
		case class == report.ClassUUID:
			return "fix ext4's UUID: `mkfs.ext4 -U <uuid>` (systemd-repart derives it from --seed)"
		case class == report.ClassTimestamp:
			return "ext4 records mkfs and write times: `E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 ...` pins them (e2fsprogs 1.47.0 ignores SOURCE_DATE_EPOCH), and a read-write mount rewrites them: never mount the image read-write"
		}
	case "iso9660":
		if class == report.ClassTimestamp {
			return "set SOURCE_DATE_EPOCH for xorriso/genisoimage, or pass fixed volume dates"
		}
	}
	switch class {
	case report.ClassTimestamp:
		return "a build time is recorded here: set SOURCE_DATE_EPOCH"
	case report.ClassUUID:
		return "a random identifier: derive it from a fixed seed"
	case report.ClassLayout:
		return "an offset, count or size that follows from the other differences in this filesystem; fix those"
	case report.ClassChecksum:
		return "a checksum over other fields: it follows from the differences listed beside it"
	}
	return ""
}

// labelTimeHint is true for dosfstools 4.2 (Debian 12) and systemd-repart
// 252: mkfs.fat ignores SOURCE_DATE_EPOCH, and repart does not pass
// --invariant.
const labelTimeHint = "mkfs.fat stamps the root directory's volume-label entry with the current time (dosfstools 4.2 ignores SOURCE_DATE_EPOCH): `mkfs.fat --invariant` fixes it, or rewrite the entry's times after mkfs; systemd-repart 252 formats ESPs without --invariant, so its ESPs carry this time even with --seed and SOURCE_DATE_EPOCH"

// TimeHint names the fix for differing file times (mtime, atime, ctime,
// btime) in a filesystem.
func TimeHint(fsName, field string) string {
	switch fsName {
	case "cpio":
		return HintCPIOMtime
	case "tar":
		return HintTarMtime
	case "zip":
		return HintZipMtime
	case "squashfs":
		return "clamp file times: SOURCE_DATE_EPOCH, or `mksquashfs -all-time N` (nix store paths have mtime 1; something outside the store was touched)"
	case "erofs":
		return "clamp file times: `mkfs.erofs -T N` with --ignore-mtime, or SOURCE_DATE_EPOCH"
	case "vfat":
		return "vfat keeps the copy time: copy with fixed times (mcopy -m keeps the source mtime; clamp the sources to SOURCE_DATE_EPOCH); directories made with mmd (or by a kernel mount) get the current time: make them under a fixed clock (faketime) or set their times afterwards"
	case "ext4":
		switch field {
		case "ctime":
			return "ext4 ctime is the source file's inode change time with `mkfs.ext4 -d` (e2fsprogs 1.47.0; touch sets it to now, it cannot clamp it), or the copy time when files are copied into a mounted filesystem: set it after populating (`debugfs -w -R 'set_inode_field PATH ctime @N'`)"
		case "btime":
			return "ext4 btime (crtime) is when the inode was made: `E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -d` pins it (e2fsprogs 1.47.0 ignores SOURCE_DATE_EPOCH); files copied into a mounted filesystem get the kernel's clock, which nothing pins: populate with `mkfs.ext4 -d` instead"
		}
		return "`mkfs.ext4 -d` copies the source files' mtime and atime: clamp them first (`find DIR -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`); files copied into a mounted filesystem keep them only with `cp -a`/`rsync -t`"
	}
	return "clamp file times to SOURCE_DATE_EPOCH"
}

// AttrCause is the cause of a differing format-specific entry attribute
// (fsys.Entry.Attrs), nil when nothing is known about it.
func AttrCause(fsName, key, a, b string) *report.Cause {
	switch {
	case fsName == "vfat" && key == "short-name" && numericTailOnly(a, b):
		return &report.Cause{Class: report.ClassOrdering, Hint: "the generated 8.3 short names' numeric tails (~1, ~2...) follow the order the files were created in: create them in sorted order (copy a sorted list one file at a time)"}
	case fsName == "ext4" && key == "generation":
		return &report.Cause{Class: report.ClassUUID, Hint: "the kernel gives every inode it creates a random generation number (files copied into a mounted filesystem); `mkfs.ext4 -d` writes 0: populate the image with `mkfs.ext4 -d DIR` instead of mounting it"}
	case strings.Contains(key, "time") || strings.Contains(key, "date"):
		return &report.Cause{Class: report.ClassTimestamp, Hint: TimeHint(fsName, key)}
	}
	return nil
}

// numericTailOnly tells two generated 8.3 names that differ only in
// their "~N" tail (the basis is cut shorter to make room for more
// digits: NIXOS-~1.CON and NIXOS~12.CON).
func numericTailOnly(a, b string) bool {
	split := func(n string) (basis, tail, ext string, ok bool) {
		name, ext, _ := strings.Cut(n, ".")
		i := strings.LastIndexByte(name, '~')
		if i < 0 || i == len(name)-1 {
			return "", "", "", false
		}
		for _, c := range name[i+1:] {
			if c < '0' || c > '9' {
				return "", "", "", false
			}
		}
		return name[:i], name[i+1:], ext, true
	}
	ba, _, ea, oka := split(a)
	bb, _, eb, okb := split(b)
	return oka && okb && a != b && ea == eb && (strings.HasPrefix(ba, bb) || strings.HasPrefix(bb, ba))
}

// PlacementHint says why files hold the same data at other places when
// nothing else about the files' data differs: they were written in
// another order.
func PlacementHint(fsName string) string {
	switch fsName {
	case "vfat":
		return "the files were copied in another order, so their clusters (and directory entries) were allocated in another order: copy a sorted list (e.g. `mcopy` one file at a time in LC_ALL=C sort order), or build the ESP with one tool run whose input order is fixed"
	case "ext4":
		return "the files were written in another order (copy order or parallel copies into a mounted filesystem), so the allocator placed their blocks elsewhere: populate without mounting (`mkfs.ext4 -d DIR` walks the tree in a fixed order), or copy a sorted list single-threaded"
	}
	return "the files were written in another order, so their data lies at other places: write them in a fixed (sorted) order, single-threaded"
}

// HintPlacementLayout: files' data lies elsewhere because the filesystems
// are laid out differently.
const HintPlacementLayout = "the files' data lies at other places because the filesystems are laid out differently (the superblock or boot sector fields listed: block size, features, reserved areas): it follows from those differences; fix them"

// ContainerHint names the fix when two image files hold the same disk in
// other containers (fa and fb are image formats: raw, qcow2, zstd...).
func ContainerHint(fa, fb string) string {
	if fa != fb {
		return fmt.Sprintf("compare like with like: both %s or both %s; the disks inside are the same", fa, fb)
	}
	switch fa {
	case "qcow2":
		return "qcow2 cluster order and metadata depend on how the image was written; build the qcow2 with `qemu-img convert -O qcow2` from the raw image, single-threaded (-m 1), or ship and compare the raw image"
	default:
		return "the compressed stream differs for the same content: pin the compressor version, level and thread count (e.g. `zstd -T1 -19`), or compare the raw image"
	}
}
