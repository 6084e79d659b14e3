package explain

import "github.com/org/immutos-action/diffimg/report"

// Hints that name the concrete fix for a structure. Comparators that know
// where a difference sits use these; Annotate falls back to ClassHint.
const (
	HintCompression = "the decompressed content is identical, only the compressed bytes differ: pin the compressor (version, level, thread count, e.g. `zstd -T1 -19`, `xz -T1`, `gzip -n`) and its options"
	HintGzipHeader  = "gzip records the input's name and mtime in its header: compress with `gzip -n` (or pigz -n), or clamp the input's mtime to SOURCE_DATE_EPOCH"
	HintCPIOMtime   = "cpio member times come from the files packed: clamp them (`find . -exec touch -h -d @$SOURCE_DATE_EPOCH {} +`) and pack with `find . | sort | cpio -o -H newc --reproducible`"
	HintCPIOOrder   = "cpio members are in another order: pack a sorted list (`find . | LC_ALL=C sort | cpio -o -H newc --reproducible`)"
	HintCPIOIno     = "cpio records inode and device numbers of the build machine: pack with `cpio --reproducible` (renumbers inodes, zeroes devices)"
	HintCPIOOwner   = "cpio records the packing user's uid/gid: pack with `cpio -R 0:0` (or --owner=+0:+0)"
	HintPETimestamp = "the PE/COFF TimeDateStamp records when the image was written: set SOURCE_DATE_EPOCH in the UKI build (ukify, the linker); binutils objcopy (seen with 2.40) writes the current time whatever SOURCE_DATE_EPOCH says, so clamp the field after objcopy or build the UKI with ukify"
	HintPEChecksum  = "the PE optional-header CheckSum is computed over the whole file: it follows from the other differences listed beside it"
	HintSignature   = "the Authenticode signature covers the image: it follows from the content differences (sign identical content with the same key and a deterministic signer, or compare unsigned images)"
	HintBuildID     = "the GNU build ID hashes the linked output: it follows from the other differences in this ELF file"
	HintELFDate     = "the binary embeds __DATE__/__TIME__ (or a build date string): set SOURCE_DATE_EPOCH (gcc and clang honour it for __DATE__/__TIME__), or drop the macro"
	HintBuildPath   = "a build directory or store path is recorded: map it away with -ffile-prefix-map=$PWD=/build/source (or -fdebug-prefix-map), build in a fixed sandbox path (nix: /build), and avoid embedding $TMPDIR; differing /nix/store hashes mean a dependency differs: compare that dependency first"
	HintUKICmdline  = "the kernel command line differs: it is generated from the NixOS configuration (boot.kernelParams, the store path of the system closure); a differing store hash means the system closure differs"
	HintUUIDRandom  = "a random identifier is generated at build time: derive it from a fixed seed (systemd-repart --seed, image.repart.seed; mkfs -U <uuid>)"
	HintTimeRandom  = "a build time is recorded here: set SOURCE_DATE_EPOCH for the tool that writes it, or clamp the time"
	HintOrdering    = "the same items appear in another order: sort them where they are produced (LC_ALL=C sort; deterministic directory iteration; single-threaded packing)"
	HintContainer   = "the container framing differs for the same content: build the container deterministically (qemu-img convert single-threaded, pinned compressor options)"
	HintContent     = "the content itself differs: find the input or build step that produced it (compare the inputs of this file's derivation)"
	HintChecksum    = "a checksum or hash over other data: it follows from the differences listed beside it"
	HintLayout      = "an offset, count or size that follows from the other differences; fix those"
)

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
