package report

import "testing"

// Apply fills the location down a subtree and keeps what a difference
// already says.
func TestLocationApply(t *testing.T) {
	inner := &Difference{Kind: KindContent, Path: []string{"cpio", "init"}}
	own := &Difference{Kind: KindContent, Filesystem: Str("squashfs"), File: Str("/nested/f"), Children: []*Difference{{Kind: KindContent}}}
	top := &Difference{Kind: KindContent, Children: []*Difference{inner}}
	Location{Partition: Int(2), Filesystem: Str("vfat"), File: Str("/EFI/x.efi")}.Apply(top, own)
	for _, d := range []*Difference{top, inner} {
		if d.Partition == nil || *d.Partition != 2 || *d.Filesystem != "vfat" || *d.File != "/EFI/x.efi" {
			t.Errorf("%v: %s", d.Path, d.Where())
		}
	}
	if got := own.Children[0].Where(); got != "partition 2 squashfs /nested/f" {
		t.Errorf("a location of its own: %q", got)
	}
	if got := LocationOf(own); *got.File != "/nested/f" || *got.Partition != 2 {
		t.Errorf("LocationOf: %+v", got)
	}
}
