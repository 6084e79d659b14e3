package report

// Location is where a difference lies: the partition, the filesystem and
// the file in it (each nil when it does not apply).
type Location struct {
	Partition  *int
	Filesystem *string
	File       *string
}

// LocationOf returns d's location.
func LocationOf(d *Difference) Location {
	return Location{Partition: d.Partition, Filesystem: d.Filesystem, File: d.File}
}

// Apply gives each of ds, and every difference below them, l's
// partition, filesystem and file where it has none of its own: the
// differences found inside a file (a section, an archive member) lie in
// that file.
func (l Location) Apply(ds ...*Difference) {
	for _, d := range ds {
		if d.Partition == nil {
			d.Partition = l.Partition
		}
		if d.Filesystem == nil {
			d.Filesystem = l.Filesystem
		}
		if d.File == nil {
			d.File = l.File
		}
		LocationOf(d).Apply(d.Children...)
	}
}
