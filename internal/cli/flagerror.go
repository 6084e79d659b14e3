package cli

import (
	"fmt"
	"regexp"
	"strings"
)

// flagValueError is pflag's message for a value that does not parse.
var flagValueError = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: (.*)$`)

// FlagError rewords pflag's "invalid argument" errors, which end in
// strconv's or time's wording ("strconv.ParseInt: parsing "x": invalid
// syntax"), as "--flag VALUE: what the flag wants". Other errors are
// returned as they are.
func FlagError(err error) error {
	m := flagValueError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	value, name, why := m[1], m[2], m[3]
	if i := strings.LastIndex(name, ", "); i >= 0 { // "-r, --runs"
		name = name[i+2:]
	}
	want := why
	switch {
	case strings.Contains(why, "value out of range"):
		want = "too large"
	case strings.Contains(why, "strconv.ParseInt"), strings.Contains(why, "strconv.ParseUint"):
		want = "want a whole number"
	case strings.Contains(why, "strconv.ParseFloat"):
		want = "want a number"
	case strings.Contains(why, "strconv.ParseBool"):
		want = "want true or false"
	case strings.HasPrefix(why, "time: "):
		want = "want a duration such as 90s, 5m or 1h30m"
	}
	return fmt.Errorf("%s %s: %s", name, value, want)
}
