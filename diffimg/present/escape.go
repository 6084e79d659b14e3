package present

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names in a report (file names inside an image, artifact names, paths) come from whoever
// built the image. These functions keep them from acting on the medium they are shown in:
// a terminal or a log GitHub reads for workflow commands (EscapeText, CommandSafeLine),
// Markdown (EscapeMarkdown, CodeSpan). HTML goes through html/template.

// EscapeText returns s with what could act on a terminal or a log written as visible
// escapes: C0 control characters but tab (newline, CR, ESC, BEL, NUL...) as \n, \r or
// \xNN, DEL and C1 controls (U+0080-U+009F, which include CSI and OSC) as \u00NN, bytes
// that are not UTF-8 as \xNN, and GitHub's legacy command marker "##[" as "#\x23[". So a
// name cannot start a new line, move the cursor, set a title or ring the bell. Strings
// without any of these come back unchanged.
func EscapeText(s string) string {
	if !needsTextEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 && r != '\t':
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x7f || (r >= 0x80 && r <= 0x9f):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == '#' && strings.HasPrefix(s[i:], "##["):
			b.WriteString(`#\x23`)
			n = 2 // the "[" is written next time round
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsTextEscape(s string) bool {
	if strings.Contains(s, "##[") || !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return true
		}
	}
	return false
}

// CommandSafeLine keeps a line of output from being a GitHub workflow command: the runner
// reads any line that starts with "::" after leading white space as one. Such a line gets
// its first colon written as \x3a. Leading SGR colour sequences of our own are skipped
// over, as a terminal would not show them either.
func CommandSafeLine(line string) string {
	i := 0
	for i < len(line) {
		r, n := utf8.DecodeRuneInString(line[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
			continue
		case r == 0x1b && strings.HasPrefix(line[i:], "\x1b["):
			if end := strings.IndexByte(line[i:], 'm'); end > 0 {
				i += end + 1
				continue
			}
		}
		break
	}
	if strings.HasPrefix(line[i:], "::") {
		return line[:i] + `\x3a` + line[i+1:]
	}
	return line
}

var mdReplacer = strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`,
	"`", "\\`", "[", `\[`, "]", `\]`, "#", `\#`, "!", `\!`, "~", `\~`)

// EscapeMarkdown makes s plain text in GitHub-flavoured Markdown, also inside a table cell
// or after "> ": control characters are escaped as EscapeText does (so s stays on one
// line), and every character Markdown gives a meaning to (emphasis, code, links, images,
// headings, HTML, table pipes, backslash) is escaped.
func EscapeMarkdown(s string) string { return mdReplacer.Replace(EscapeText(s)) }

// CodeSpan is s as inline code, with a fence longer than any backquote run in it, control
// characters escaped (a newline would end a table row) and pipes escaped for tables.
func CodeSpan(s string) string {
	s = EscapeText(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", "\\|") + pad + fence
}
