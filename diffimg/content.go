package diffimg

// DefaultContent returns the content comparers immutos-diff uses by
// default. Deep comparison (compressed streams, cpio, PE/UKI, ELF, text)
// plugs in here; nil keeps the byte-range listing.
func DefaultContent() ContentComparer { return nil }
