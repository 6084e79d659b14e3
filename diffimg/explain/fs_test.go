package explain

import (
	"strings"
	"testing"
)

// TestExt4HintsTrue: hints must hold for the tools that make the image.
// Seen with e2fsprogs 1.47.0 and systemd-repart 252: mkfs.ext4 ignores
// SOURCE_DATE_EPOCH (E2FSPROGS_FAKE_TIME works), `mkfs.ext4 -d` copies
// the source's ctime (touch sets it to now, so touching cannot clamp it),
// and systemd-repart 252 passes no hash seed derived from --seed.
func TestExt4HintsTrue(t *testing.T) {
	for _, c := range []struct {
		hint     string
		must     []string
		mustNot  []string
		whatHint string
	}{
		{FieldHint("ext4", "hash-seed", "uuid"), []string{"hash_seed", "252"}, []string{"derives both"}, "hash seed"},
		{FieldHint("ext4", "mkfs-time", "timestamp"), []string{"E2FSPROGS_FAKE_TIME"}, []string{">= 1.47 honours"}, "mkfs time"},
		{FieldHint("ext4", "kbytes-written", "content"), []string{"mounted"}, nil, "kbytes written"},
		{TimeHint("ext4", "ctime"), []string{"debugfs"}, []string{"touch -d"}, "ctime"},
		{TimeHint("ext4", "btime"), []string{"E2FSPROGS_FAKE_TIME"}, []string{"touch -d"}, "btime"},
	} {
		for _, s := range c.must {
			if !strings.Contains(c.hint, s) {
				t.Errorf("%s hint lacks %q: %s", c.whatHint, s, c.hint)
			}
		}
		for _, s := range c.mustNot {
			if strings.Contains(c.hint, s) {
				t.Errorf("%s hint says %q: %s", c.whatHint, s, c.hint)
			}
		}
	}
	if c := AttrCause("ext4", "generation", "1", "2"); c == nil || c.Class != "uuid" {
		t.Errorf("ext4 generation cause %+v, want uuid", c)
	}
}
