package explain

import (
	"strconv"

	"github.com/org/immutos-action/diffimg/report"
)

// Rules for the entries of archives read as trees (cpio, tar, zip: the
// tree's type is the format), applied by the engine's one tree comparer
// as it applies the filesystems' rules.

// OrderHint is the hint for a tree whose members are stored in another
// order (fsys.Ordered).
func OrderHint(fsName string) string {
	switch fsName {
	case "cpio":
		return HintCPIOOrder
	case "tar":
		return HintTarOrder
	case "zip":
		return HintZipOrder
	}
	return HintOrdering
}

// ImpliedCause is the cause of a directory that one archive
// lists and the other only implies by the paths below it.
func ImpliedCause() *report.Cause {
	return &report.Cause{Class: report.ClassBuildPath, Hint: HintArchiveImpliedDir}
}

// OwnerHint is the hint for entries whose uid/gid differ.
func OwnerHint(fsName string) string {
	switch fsName {
	case "cpio":
		return HintCPIOOwner
	case "tar":
		return HintTarOwner
	case "zip":
		return HintZipOwner
	}
	return HintFSOwner
}

// EntryAttrCause is the cause of a differing attribute key of two
// entries (their Attrs a and b) of trees of type fsName; reordered says
// the trees hold the same members in another order. Attributes without
// an archive rule take AttrCause's.
func EntryAttrCause(fsName, key string, a, b map[string]string, reordered bool) *report.Cause {
	switch fsName + ":" + key {
	case "cpio:ino":
		if reordered {
			// cpio --reproducible numbers inodes in packing order
			return &report.Cause{Class: report.ClassOrdering, Hint: HintCPIOInoOrder}
		}
		return &report.Cause{Class: report.ClassContent, Hint: HintCPIOIno}
	case "cpio:dev":
		return &report.Cause{Class: report.ClassContent, Hint: HintCPIOIno}
	case "cpio:check", "zip:crc32":
		return &report.Cause{Class: report.ClassChecksum, Hint: HintChecksum}
	case "tar:owner-names":
		return &report.Cause{Class: report.ClassContent, Hint: HintTarOwner}
	case "cpio:stored-name", "tar:stored-name", "zip:stored-name":
		return &report.Cause{Class: report.ClassBuildPath, Hint: HintArchiveNameSpelling}
	case "zip:dos-time":
		return &report.Cause{Class: report.ClassTimestamp, Hint: HintZipMtime}
	case "zip:method", "zip:compressed-data", "zip:version-needed":
		if a["crc32"] == b["crc32"] {
			return &report.Cause{Class: report.ClassCompression, Hint: HintCompression}
		}
	case "zip:flags":
		// only the deflate level bits, with the same content
		fa, errA := strconv.ParseUint(a[key], 0, 16)
		fb, errB := strconv.ParseUint(b[key], 0, 16)
		if errA == nil && errB == nil && (fa^fb)&^0x6 == 0 && a["crc32"] == b["crc32"] {
			return &report.Cause{Class: report.ClassCompression, Hint: HintCompression}
		}
		return nil
	}
	return AttrCause(fsName, key, a[key], b[key])
}
