package explain

import "github.com/org/immutos-action/diffimg/report"

// Hints that name the concrete fix for a structure. Comparators that know
// where a difference sits use these; Annotate falls back to ClassHint.
const (
	HintCompression  = "the decompressed content is identical, only the compressed bytes differ: pin the compressor (version, level, thread count, e.g. `zstd -T1 -19`, `xz -T1`, `gzip -n`) and its options"
	HintGzipHeader   = "gzip records the input's name and mtime in its header: compress with `gzip -n` (or pigz -n), or clamp the input's mtime to SOURCE_DATE_EPOCH"
	HintCPIOMtime    = "cpio member times come from the files packed: clamp them (`find . -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`) and pack with `find . | sort | cpio -o -H newc --reproducible`"
	HintCPIOOrder    = "cpio members are in another order: pack a sorted list (`find . | LC_ALL=C sort | cpio -o -H newc --reproducible`)"
	HintCPIOIno      = "cpio records inode and device numbers of the build machine: pack with `cpio --reproducible` (renumbers inodes, zeroes devices)"
	HintCPIOOwner    = "cpio records the packing user's uid/gid: pack with `cpio -R 0:0` (or --owner=+0:+0)"
	HintPETimestamp  = "the PE/COFF TimeDateStamp records when the image was written: set SOURCE_DATE_EPOCH in the UKI build (ukify, the linker); binutils objcopy (seen with 2.40) writes the current time whatever SOURCE_DATE_EPOCH says, so clamp the field after objcopy or build the UKI with ukify"
	HintPEChecksum   = "the PE optional-header CheckSum is computed over the whole file: it follows from the other differences listed beside it"
	HintSignature    = "the Authenticode signature covers the image: it follows from the content differences (sign identical content with the same key and a deterministic signer, or compare unsigned images)"
	HintBuildID      = "the GNU build ID hashes the linked output: it follows from the other differences in this ELF file"
	HintELFDate      = "the binary embeds __DATE__/__TIME__ (or a build date string): set SOURCE_DATE_EPOCH (gcc and clang honour it for __DATE__/__TIME__), or drop the macro"
	HintBuildPath    = "a build directory or store path is recorded: map it away with -ffile-prefix-map=$PWD=/build/source (or -fdebug-prefix-map), build in a fixed sandbox path (nix: /build), and avoid embedding $TMPDIR; differing /nix/store hashes mean a dependency differs: compare that dependency first"
	HintUKICmdline   = "the kernel command line differs: it is generated from the NixOS configuration (boot.kernelParams, the store path of the system closure); a differing store hash means the system closure differs"
	HintUUIDRandom   = "a random identifier is generated at build time: derive it from a fixed seed (systemd-repart --seed, image.repart.seed; mkfs -U <uuid>)"
	HintTimeRandom   = "a build time is recorded here: set SOURCE_DATE_EPOCH for the tool that writes it, or clamp the time"
	HintOrdering     = "the same items appear in another order: sort them where they are produced (LC_ALL=C sort; deterministic directory iteration; single-threaded packing)"
	HintContainer    = "the container framing differs for the same content: build the container deterministically (qemu-img convert single-threaded, pinned compressor options)"
	HintContent      = "the content itself differs: find the input or build step that produced it (compare the inputs of this file's derivation)"
	HintChecksum     = "a checksum or hash over other data: it follows from the differences listed beside it"
	HintLayout       = "an offset, count or size that follows from the other differences; fix those"
	HintGzipOS       = "gzip records the OS it ran on (3 = Unix): use the same gzip implementation on every builder"
	HintGzipXFL      = "gzip's XFL byte records the compression level (2 = best, 4 = fastest): pin the level"
	HintCPIOInoOrder = "inode numbers follow the packing order, which differs: " + HintCPIOOrder
	HintDebugCRC     = "the CRC of the separate debug file: it follows from the differences in the debug info"
	HintSignedOnce   = "one image is signed and the other is not: compare both unsigned (or both signed with the same key)"
)

// Hints for tar and zip member fields.
const (
	HintTarMtime            = "tar member times come from the files packed: pack with `tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime` (GNU tar; pax archives also `--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime`), or clamp the files first (`find . -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`)"
	HintTarOrder            = "tar members are in another order: pack with `tar --sort=name` (GNU tar), or from a sorted list (`find . | LC_ALL=C sort | tar --no-recursion -T - -cf out.tar`)"
	HintTarOwner            = "tar records the packing user's uid/gid and names: pack with `tar --owner=0 --group=0 --numeric-owner`"
	HintZipMtime            = "zip records each file's mtime (a DOS date and time, and an extended Unix timestamp unless `zip -X`): clamp the files' mtimes to SOURCE_DATE_EPOCH before zipping (`find . -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`) and zip with -X, or normalise the archive afterwards (strip-nondeterminism)"
	HintArchiveNameSpelling = "the archives spell this member's name differently (\"./etc/x\" vs \"etc/x\"): the archiver was given its paths another way (`find .` vs `find *`, `tar -C dir .` vs `tar -C dir *`); pack the same sorted list the same way on both sides"
	HintArchiveImpliedDir   = "one archive lists this directory as a member, the other only implies it from the paths below it: pack from a list that holds the directories on both sides (`find . | LC_ALL=C sort`), or on neither (`find . ! -type d`)"
	HintZipOrder            = "zip members are in another order: add them from a sorted list (`find . | LC_ALL=C sort | zip -X -@ out.zip`)"
	HintZipOwner            = "zip's Unix extra field records the packing user's uid/gid: zip with -X"
)

// Hints for filesystem entries and the bytes around them.
const (
	HintMode = "permissions come from the build: fix the mode where the file is created, or normalise modes when packing"
	// HintFSOwner is the owner hint of a filesystem entry (the packers
	// that make filesystems); kindHint's names cpio too.
	HintFSOwner   = "owners come from the build user: pack with fixed owners (mksquashfs -all-root, mkfs.erofs --all-root)"
	HintHardLinks = "hard links differ: the build links files differently (nix store optimisation, hardlink tools)"
	// HintOutsidePartitions: bytes no partition claims.
	HintOutsidePartitions = "bytes outside every partition should be zero: check the tool that writes the disk (systemd-repart pads with zeros)"
	// HintUnclaimed: bytes of a filesystem that no file claims.
	HintUnclaimed = "bytes no file claims should be zero: make the filesystem from scratch on a zeroed device (mkfs tools do when the image is created fresh); a difference here can also be tampering"
)

// Hints for damage: what no build produces, so pinning the build's inputs
// cannot be the fix.
const (
	// HintDamagedTable: a partition table problem in one image (a wrong
	// CRC, a missing header).
	HintDamagedTable = "the partition table is damaged in one image (a wrong CRC, a missing header): partitioning tools do not write that; check how the image was copied, stored or changed after the build"
	// HintDamagedEntry: an entry whose own structure cannot be read.
	HintDamagedEntry = "this entry's filesystem structure cannot be read in one image (a damaged inode or directory): builds do not produce that; check the storage or transfer the image came through, or whether it was modified after the build"
	// HintUnreadable: data or a tree that cannot be read (a corrupt
	// compressed block, a broken directory).
	HintUnreadable = "this data cannot be read in one image (corrupt compressed data or a broken structure): builds do not produce that; check the storage or transfer the image came through, or whether it was modified after the build"
	// HintTruncated: an image file shorter than its partition table says.
	HintTruncated = "the image file was cut short (an interrupted copy, download or write, or a full disk): fetch or copy it again and compare its size and checksum with the build's"
)

// TruncatedTableHint is the cause of a backup-GPT difference that follows
// from side ("a" or "b") being truncated.
func TruncatedTableHint(side string) string {
	return "follows from " + side + " being truncated (listed first): its end, where the backup GPT lies, is missing"
}

// BeyondTruncationHint is the cause of a difference that lies wholly in
// the bytes the truncated side lacks.
func BeyondTruncationHint(side string) string {
	return "lies beyond the end of " + side + ", which is truncated (listed first): these bytes are missing, not built differently"
}

// ClassHint is the generic hint of a class, when nothing more specific is
// known.
func ClassHint(class report.Class) string {
	switch class {
	case report.ClassTimestamp:
		return HintTimeRandom
	case report.ClassUUID:
		return HintUUIDRandom
	case report.ClassOrdering:
		return HintOrdering
	case report.ClassBuildPath:
		return HintBuildPath
	case report.ClassCompression:
		return HintCompression
	case report.ClassContainer:
		return HintContainer
	case report.ClassChecksum:
		return HintChecksum
	case report.ClassLayout:
		return HintLayout
	}
	return HintContent
}
