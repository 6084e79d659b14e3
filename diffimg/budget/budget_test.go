package budget

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDefaultMaxDecodedIsHalfTheFreeSpace(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	n, why := DefaultMaxDecoded()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if n > free/2+(64<<20) || n < min(free/2, MaxDecodedCeiling)-(64<<20) || n > MaxDecodedCeiling {
		t.Errorf("default %d, free %d", n, free)
	}
	if !strings.Contains(why, dir) || !strings.Contains(why, "free") {
		t.Errorf("reason %q does not name the free space of %s", why, dir)
	}
}

func TestBudgetCuts(t *testing.T) {
	r := New(Limits{MaxDecoded: 100, MaxDifferences: 3, MaxFileDifferences: 1})
	if g := r.Decode(60); g != 60 {
		t.Fatalf("granted %d of 60", g)
	}
	if g := r.Decode(60); g != 40 {
		t.Fatalf("granted %d, want the 40 left", g)
	}
	r.Release(10)
	if g := r.Decode(60); g != 10 {
		t.Fatalf("granted %d after a release of 10", g)
	}
	if r.Decode(1) != 0 {
		t.Fatal("granted past the budget")
	}
	if !r.AddDifferences(3) || r.AddDifferences(1) {
		t.Fatal("difference budget of 3 not enforced")
	}
	cuts := strings.Join(r.Cuts(), "\n")
	if !strings.Contains(cuts, string(BoundDecoded)) || !strings.Contains(cuts, string(BoundDifferences)) || strings.Contains(cuts, string(BoundTimeout)) {
		t.Fatalf("cuts %q", cuts)
	}
	var none *Run
	if none.Expired() || !none.AddDifferences(1e9) || none.Decode(5) != 5 {
		t.Fatal("a nil budget bounds something")
	}
}
