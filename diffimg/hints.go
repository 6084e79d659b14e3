package diffimg

import "strings"

// fsHint names the concrete fix for a differing superblock field.
func fsHint(fsName, field, class string) string {
	f := strings.ToLower(field)
	switch fsName {
	case "vfat":
		switch {
		case strings.Contains(f, "serial"):
			return "the vfat volume serial is random unless fixed: systemd-repart --seed (image.repart.seed), or `mkfs.vfat -i XXXXXXXX`"
		case strings.Contains(f, "label"):
			return "set the label explicitly: `mkfs.vfat -n LABEL` / Label= in the repart definition"
		}
	case "squashfs":
		if class == "timestamp" {
			return "set SOURCE_DATE_EPOCH, or `mksquashfs -mkfs-time N -all-time N`"
		}
	case "erofs":
		if class == "uuid" {
			return "fix the erofs UUID: `mkfs.erofs -U <uuid>` (systemd-repart derives it from --seed)"
		}
		if class == "timestamp" {
			return "fix erofs times: `mkfs.erofs -T N` or SOURCE_DATE_EPOCH"
		}
	case "ext4":
		if class == "uuid" {
			return "fix ext4's UUID and directory hash seed: `mkfs.ext4 -U <uuid> -E hash_seed=<uuid>` (systemd-repart derives both from --seed)"
		}
		if class == "timestamp" {
			return "ext4 records mkfs and write times: set SOURCE_DATE_EPOCH for mkfs.ext4 (e2fsprogs >= 1.47 honours it) and never mount the image read-write"
		}
	case "iso9660":
		if class == "timestamp" {
			return "set SOURCE_DATE_EPOCH for xorriso/genisoimage, or pass fixed volume dates"
		}
	}
	switch class {
	case "timestamp":
		return "a build time is recorded here: set SOURCE_DATE_EPOCH"
	case "uuid":
		return "a random identifier: derive it from a fixed seed"
	case "layout":
		return "an offset, count or size that follows from the other differences in this filesystem; fix those"
	case "checksum":
		return "a checksum over other fields: it follows from the differences listed beside it"
	}
	return ""
}

// timeHint names the fix for differing file times in a filesystem.
func timeHint(fsName string) string {
	switch fsName {
	case "squashfs":
		return "clamp file times: SOURCE_DATE_EPOCH, or `mksquashfs -all-time N` (nix store paths have mtime 1; something outside the store was touched)"
	case "erofs":
		return "clamp file times: `mkfs.erofs -T N` with --ignore-mtime, or SOURCE_DATE_EPOCH"
	case "vfat":
		return "vfat keeps the copy time: copy with fixed times (mcopy -m keeps the source mtime; clamp sources to SOURCE_DATE_EPOCH), or use systemd-repart with SOURCE_DATE_EPOCH"
	case "ext4":
		return "clamp file times before `mkfs.ext4 -d` (touch -d @$SOURCE_DATE_EPOCH), and set SOURCE_DATE_EPOCH"
	}
	return "clamp file times to SOURCE_DATE_EPOCH"
}
