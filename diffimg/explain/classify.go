package explain

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/report"
)

// now is the reference for "near now"; a variable for tests.
var now = time.Now

const (
	unix2000  = 946684800 // 2000-01-01
	epochNear = 366 * 86400
)

// plausibleTime tells a Unix time a build could have recorded: from 2000
// to a few years from now.
func plausibleTime(t int64) bool {
	return t >= unix2000 && t <= now().Unix()+5*366*86400
}

// timesPair tells two Unix times that look like two build times: both
// plausible and near each other, or one plausible and the other clamped
// near the epoch (SOURCE_DATE_EPOCH=0 or 1 on one side).
func timesPair(a, b int64) bool {
	if a == b {
		return false
	}
	pa, pb := plausibleTime(a), plausibleTime(b)
	switch {
	case pa && pb:
		d := a - b
		if d < 0 {
			d = -d
		}
		return d < 1<<24 // about 194 days
	case pa && b >= 0 && b < epochNear, pb && a >= 0 && a < epochNear:
		return true
	}
	return false
}

// Bytes classifies a differing byte range of unknown structure. a and b
// are windows of the two sides around the difference (same start offset,
// which is base in the enclosing structure); the differing bytes are
// [lo, hi) of the windows. Only strong evidence counts: printable text
// around the difference on both sides that the text rules explain (a
// date in a known notation, a build path, a UUID string). Binary integers
// that happen to decode as times, and random-looking bytes, are not
// evidence where the structure is unknown (x86 code, deflate data, FAT
// chains and random bytes all look like that): formats decode such fields
// by name. It returns nil when it finds nothing more specific than content.
func Bytes(a, b []byte, base int64, lo, hi int) *report.Cause {
	if lo < 0 || hi <= lo || hi > len(a) || hi > len(b) {
		return nil
	}
	sa, sb := printableAround(a, lo, hi), printableAround(b, lo, hi)
	if len(sa) >= 8 && len(sb) >= 8 {
		return Text(sa, sb)
	}
	return nil
}

// printableAround returns the run of printable bytes around [lo, hi),
// bounded to 256 bytes either side.
func printableAround(p []byte, lo, hi int) string {
	isP := func(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' }
	s := lo
	for s > 0 && lo-s < 256 && isP(p[s-1]) {
		s--
	}
	e := hi
	for e < len(p) && e-hi < 256 && isP(p[e]) {
		e++
	}
	for i := lo; i < hi; i++ {
		if !isP(p[i]) {
			return ""
		}
	}
	return string(p[s:e])
}

var (
	timeRE      = regexp.MustCompile(`(?i)\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}| ?UTC)?)?|\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?(?: ?(?:UTC|GMT|[+-]\d{4}))?(?: \d{4}\b)?|\b(?:mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\b,?|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? +\d{1,2}\b(?:,? +\d{4}\b)?|\b\d{1,2} +(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* +\d{4}\b|\b1[0-9]{9}(?:[0-9]{3}){0,3}\b|\b\d{8}T?\d{6}Z?\b`)
	buildPathRE = regexp.MustCompile(`/nix/store/[0-9a-df-np-sv-z]{32}|/tmp/nix-build-[^/\s"'\x00]*|/build/[^/\s"'\x00]*|/tmp/[^/\s"'\x00]+|/var/tmp/[^/\s"'\x00]+|/private/var/folders/[^\s"'\x00]*?/T/[^/\s"'\x00]*|/home/[^/\s"'\x00]+|/run/user/\d+|\btmp\.[A-Za-z0-9]{6,}\b|\btmp[a-z0-9_]{8}\b`)
	uuidRE      = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9A-F]{4}-[0-9A-F]{4}\b`)
	pathTokRE   = regexp.MustCompile(`/[^\s"'\x00:;,=]+`)
)

// Text classifies two differing strings (lines, printable runs, field
// values): timestamps, build paths, UUIDs. nil when none explains all of
// the difference.
func Text(a, b string) *report.Cause {
	if a == b {
		return nil
	}
	if norm(timeRE, a, "<TIME>") == norm(timeRE, b, "<TIME>") && epochsPlausible(a, b) {
		return &report.Cause{Class: report.ClassTimestamp, Hint: "a date or time string is embedded: " + HintTimeRandom}
	}
	if norm(buildPathRE, a, "<BUILD>") == norm(buildPathRE, b, "<BUILD>") {
		return &report.Cause{Class: report.ClassBuildPath, Hint: HintBuildPath}
	}
	if norm(uuidRE, a, "<UUID>") == norm(uuidRE, b, "<UUID>") {
		return &report.Cause{Class: report.ClassUUID, Hint: "a UUID or volume serial is embedded: " + HintUUIDRandom}
	}
	// Both differ inside an absolute path of the same shape.
	if pathOnly(a, b) {
		return &report.Cause{Class: report.ClassBuildPath, Hint: HintBuildPath}
	}
	return nil
}

func norm(re *regexp.Regexp, s, repl string) string { return re.ReplaceAllString(s, repl) }

// epochsPlausible checks the bare-digit times the time rule matched in a
// and b (Unix seconds, ms, µs or ns): each differing pair must read as
// two build times, else a 10-digit counter or identifier would count as
// a time.
func epochsPlausible(a, b string) bool {
	ma, mb := timeRE.FindAllString(a, -1), timeRE.FindAllString(b, -1)
	if len(ma) != len(mb) {
		return false
	}
	for i := range ma {
		if ma[i] == mb[i] || !allDigits(ma[i]) || !allDigits(mb[i]) {
			continue
		}
		// The first 10 digits are the seconds; the rest (ms, µs, ns)
		// may be all that differs.
		x, errA := strconv.ParseInt(ma[i][:10], 10, 64)
		y, errB := strconv.ParseInt(mb[i][:10], 10, 64)
		if errA != nil || errB != nil || !(timesPair(x, y) || x == y && plausibleTime(x)) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// pathOnly: the strings differ only inside one path token on each side,
// both absolute paths of at least two components with the same last
// component.
func pathOnly(a, b string) bool {
	pa, pb := pathTokRE.FindAllStringIndex(a, -1), pathTokRE.FindAllStringIndex(b, -1)
	if len(pa) == 0 || len(pa) != len(pb) {
		return false
	}
	differing := 0
	last := 0
	var rest strings.Builder
	var restB strings.Builder
	lastB := 0
	for i := range pa {
		ta, tb := a[pa[i][0]:pa[i][1]], b[pb[i][0]:pb[i][1]]
		rest.WriteString(a[last:pa[i][0]])
		restB.WriteString(b[lastB:pb[i][0]])
		last, lastB = pa[i][1], pb[i][1]
		if ta != tb {
			differing++
			if strings.Count(ta, "/") < 2 || strings.Count(tb, "/") < 2 {
				return false
			}
		}
	}
	rest.WriteString(a[last:])
	restB.WriteString(b[lastB:])
	return differing > 0 && rest.String() == restB.String()
}

// Lines classifies a text difference from its removed and added lines,
// and the whole texts' lines when known (for ordering).
func Lines(removed, added []string) *report.Cause {
	if len(removed) == 0 && len(added) == 0 {
		return nil
	}
	if len(removed) == len(added) {
		ra, rb := append([]string(nil), removed...), append([]string(nil), added...)
		sort.Strings(ra)
		sort.Strings(rb)
		if strings.Join(ra, "\n") == strings.Join(rb, "\n") {
			return &report.Cause{Class: report.ClassOrdering, Hint: HintOrdering}
		}
		if c := Text(strings.Join(removed, "\n"), strings.Join(added, "\n")); c != nil {
			return c
		}
	}
	return nil
}

// Ordering tells two lists that hold the same items in another order.
func Ordering(a, b []string) bool {
	if len(a) != len(b) || len(a) < 2 {
		return false
	}
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	same := true
	for i := range x {
		if x[i] != y[i] {
			same = false
		}
	}
	if same {
		return false
	}
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// Values classifies a differing field from its name and two values.
func Values(field, a, b string) *report.Cause {
	f := strings.ToLower(field)
	switch {
	case strings.Contains(f, "sha256") || strings.Contains(f, "digest"):
		return nil
	case strings.Contains(f, "crc") || strings.Contains(f, "checksum") || strings.Contains(f, "build-id"):
		return &report.Cause{Class: report.ClassChecksum, Hint: HintChecksum}
	case strings.Contains(f, "time") || strings.Contains(f, "date") || f == "mtime":
		return &report.Cause{Class: report.ClassTimestamp, Hint: HintTimeRandom}
	case strings.Contains(f, "uuid") || strings.Contains(f, "guid") || strings.Contains(f, "serial") || strings.Contains(f, "seed"):
		return &report.Cause{Class: report.ClassUUID, Hint: HintUUIDRandom}
	}
	// Values written as dates are times; bare numbers are not evidence
	// (a random generation number or a counter reads as a time too).
	if allDigits(a) && allDigits(b) {
		return nil
	}
	if ta, oka := parseTime(a); oka {
		if tb, okb := parseTime(b); okb && timesPair(ta, tb) {
			return &report.Cause{Class: report.ClassTimestamp, Hint: HintTimeRandom}
		}
	}
	return Text(a, b)
}

func parseTime(s string) (int64, bool) {
	for _, l := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

// differingRange returns the two sides of an excerpt over the length
// both have, and the range [lo, hi) from its first to its last differing
// byte; ok is false when the bytes both have are equal.
func differingRange(x *report.Excerpt) (a, b []byte, lo, hi int, ok bool) {
	n := min(len(x.A), len(x.B))
	a, b = x.A[:n], x.B[:n]
	lo = -1
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			if lo < 0 {
				lo = i
			}
			hi = i + 1
		}
	}
	return a, b, lo, hi, lo >= 0
}
