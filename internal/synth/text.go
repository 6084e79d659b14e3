package synth

import (
	"bytes"
	"fmt"
	"strings"
)

var words = strings.Fields(`the a of to and in is for with that on as by this be are from it an or at
not which when each file files build image store package system boot disk partition filesystem
kernel initrd loader configuration option options default value values version release change
changes fixed fix bug bugs support new old added removed option user users manual page program
library libraries binary binaries source sources compile compiled compiler link linked linker
symbol symbols section sections table tables offset offsets size sizes block blocks byte bytes
directory directories entry entries inode inodes time times stamp stamps random seed order
sorted reproducible deterministic output input path paths environment variable variables locale
timezone compression compressed decompress stream archive member members header headers device
devices mount mounted read write written reader writer error errors warning warnings message
messages test tests check checks checked install installed upgrade upgraded remove documentation
license copyright permission permissions granted warranty software distribute distributed
modify modified conditions notice included provided express implied merchantability fitness
particular purpose author authors holders liability damages contract tort otherwise arising use
dealings copies substantial portions`)

// Prose returns size bytes of English-like text: wrapped paragraphs of
// sentences, as documentation, changelogs and licences are. It
// compresses about as well as real documentation.
func Prose(seed uint64, size int) []byte {
	r := NewRand(seed)
	var out bytes.Buffer
	col := 0
	for out.Len() < size {
		// A paragraph: a few sentences, sometimes under a heading.
		if r.Intn(5) == 0 {
			fmt.Fprintf(&out, "%s %d.%d.%d\n\n", strings.ToUpper(words[r.Intn(len(words))]), r.Intn(5), r.Intn(20), r.Intn(10))
		}
		for s := 2 + r.Intn(5); s > 0; s-- {
			n := 5 + r.Intn(14)
			for i := 0; i < n; i++ {
				w := words[r.Intn(len(words))]
				if i == 0 {
					w = strings.ToUpper(w[:1]) + w[1:]
				}
				if i == n-1 {
					w += "."
				}
				if col > 0 && col+1+len(w) > 72 {
					out.WriteByte('\n')
					col = 0
				}
				if col > 0 {
					out.WriteByte(' ')
					col++
				}
				out.WriteString(w)
				col += len(w)
			}
		}
		out.WriteString("\n\n")
		col = 0
	}
	b := out.Bytes()[:size]
	if size > 0 {
		b[size-1] = '\n'
	}
	return b
}
