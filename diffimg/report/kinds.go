package report

// The report's vocabularies are typed strings: the JSON values are the
// constants' strings, unchanged, and a misspelt kind or class no longer
// compiles. Formats (fsys, layout), content comparers, the engine and
// explain all name them through these constants.

// Kind is what differs: a difference's "kind" in the JSON report.
type Kind string

// Difference kinds.
const (
	KindContent        Kind = "content"
	KindSize           Kind = "size"
	KindMode           Kind = "mode"
	KindOwner          Kind = "owner"
	KindMtime          Kind = "mtime"
	KindXattr          Kind = "xattr"
	KindLink           Kind = "link"
	KindType           Kind = "type"
	KindAdded          Kind = "added"
	KindRemoved        Kind = "removed"
	KindMetadata       Kind = "metadata"
	KindUnallocated    Kind = "unallocated"
	KindContainer      Kind = "container"
	KindPartitionTable Kind = "partition-table"
	KindExcluded       Kind = "excluded"
	KindNote           Kind = "note"
)

// Class is a difference's likely cause: the "class" of its "cause" in the
// JSON report, and a key of the report's summary.
type Class string

// Cause classes.
const (
	ClassTimestamp   Class = "timestamp"
	ClassUUID        Class = "uuid"
	ClassOrdering    Class = "ordering"
	ClassBuildPath   Class = "build-path"
	ClassCompression Class = "compression"
	ClassContainer   Class = "container"
	ClassChecksum    Class = "checksum"
	ClassContent     Class = "content"
	// ClassLabel marks a volume label or name (erofs volume-name).
	ClassLabel Class = "label"
	// ClassLayout marks fields that follow from other differences: table
	// offsets, counts and sizes that move when content changes.
	ClassLayout Class = "layout"
)

// Bound names the limit that cut a difference's output or children short:
// its "truncated" value in the JSON report. Each is the name of the flag
// that sets it, except BoundBudget (the run's notice of its cuts).
type Bound string

// Bounds of one file's content comparison (package content).
const (
	BoundDepth          Bound = "max-depth"
	BoundDecompressed   Bound = "max-decompressed"
	BoundDiffLines      Bound = "max-diff-lines"
	BoundRanges         Bound = "max-ranges"
	BoundContentTimeout Bound = "content-timeout"
	// BoundLookInside: a file too large to look inside.
	BoundLookInside Bound = "max-look-inside"
)

// Bounds of the whole run (package budget).
const (
	BoundTimeout         Bound = "timeout"
	BoundDecoded         Bound = "max-decoded"
	BoundDifferences     Bound = "max-total-differences"
	BoundFileDifferences Bound = "max-file-differences"
	BoundAlike           Bound = "max-alike-differences"
	// BoundBudget marks the note that lists the run budgets that cut it.
	BoundBudget Bound = "budget"
)
