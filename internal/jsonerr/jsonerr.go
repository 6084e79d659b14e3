// Package jsonerr says why a JSON input was refused in words a person
// acts on, instead of encoding/json's and protojson's wording ("invalid
// character 'h' looking for beginning of value", "cannot unmarshal array
// into Go value of type struct {...}", "proto: (line 1:2): ...").
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Describe returns what is wrong with the JSON that err (from
// encoding/json) was about.
func Describe(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input"):
		return "truncated JSON"
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON (syntax error at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("the file holds a JSON %s, not an object", typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("%q is a JSON %s, want %s", typ.Field, typ.Value, kind(typ.Type.Kind().String()))
	}
	return "not valid JSON"
}

func kind(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	}
	return "a number"
}

// protoPosition finds protojson's "proto: (line L:C): " prefix, whose
// spaces protobuf randomises between normal and non-breaking ones.
var protoPosition = regexp.MustCompile(`proto:[\s\x{00a0}]*(?:syntax error[\s\x{00a0}]*)?(?:\(line (\d+):(\d+)\):[\s\x{00a0}]*)?`)

// DescribeProto returns the reason of a protojson error (possibly wrapped
// by a library's own prefix) without the prefixes, with its position.
func DescribeProto(err error) string {
	msg := err.Error()
	loc := protoPosition.FindAllStringSubmatchIndex(msg, -1)
	if loc == nil {
		return msg
	}
	last := loc[len(loc)-1]
	why := strings.Map(func(r rune) rune {
		if r == '\u00a0' {
			return ' '
		}
		return r
	}, msg[last[1]:])
	if last[2] >= 0 {
		why += fmt.Sprintf(" (line %s, column %s)", msg[last[2]:last[3]], msg[last[4]:last[5]])
	}
	return why
}
