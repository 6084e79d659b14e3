package report

import "testing"

// TestSplitStorePath: a store path is /nix/store/<hash>-<name> or, in a
// partition rooted at the store, /<hash>-<name>, with a 32-character nix
// base32 hash (no e, o, t, u) and a name nix allows.
func TestSplitStorePath(t *testing.T) {
	const h = "0123456789abcdfghijklmnpqrsvwxyz"
	for _, c := range []struct {
		file, sp, name string
	}{
		{"/nix/store/" + h + "-hello-2.12/bin/hello", "/nix/store/" + h + "-hello-2.12", "hello-2.12"},
		{"/" + h + "-glibc-2.39/lib/libc.so.6", "/" + h + "-glibc-2.39", "glibc-2.39"},
		{"/" + h + "-x.drv", "/" + h + "-x.drv", "x.drv"},
		{"/" + h + "-a+b_c?d=e", "/" + h + "-a+b_c?d=e", "a+b_c?d=e"},
		{"/0123456789abcdefghijklmnpqrsvwxy-eee/x", "", ""}, // 'e' is not nix base32
		{"/" + h[:31] + "-short/x", "", ""},                 // 31 characters
		{"/" + h + "/x", "", ""},                            // no name
		{"/" + h + "-bad name/x", "", ""},                   // space is not allowed
		{"/etc/" + h + "-nested/x", "", ""},                 // not at the store root
		{"/nix/store", "", ""},
		{"relative/" + h + "-x", "", ""},
	} {
		sp, hash, name, ok := SplitStorePath(c.file)
		if ok != (c.sp != "") || sp != c.sp || name != c.name || (ok && hash != h) {
			t.Errorf("SplitStorePath(%q) = %q %q %q %v, want %q %q", c.file, sp, hash, name, ok, c.sp, c.name)
		}
	}
}
