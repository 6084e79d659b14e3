package jsonerr

import (
	"encoding/json"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestDescribe(t *testing.T) {
	var v struct {
		Schema string `json:"schema"`
		Runs   []int  `json:"runs"`
	}
	for in, want := range map[string]string{
		"hello":              "not JSON (syntax error at byte 1)",
		"[1, 2]":             "the file holds a JSON array, not an object",
		`{"schema": 3}`:      `"schema" is a JSON number, want a string`,
		`{"runs": {"a": 1}}`: `"runs" is a JSON object, want an array`,
		`{"schema": "x"`:     "truncated JSON",
	} {
		err := json.Unmarshal([]byte(in), &v)
		if got := Describe(fmt.Errorf("wrapped: %w", err)); got != want {
			t.Errorf("%s: %q, want %q (from %v)", in, got, want, err)
		}
	}
}

func TestDescribeProto(t *testing.T) {
	for in, want := range map[string]string{
		`{"name": "x", "bogus": 2}`: `unknown field "bogus" (line 1, column 15)`,
		`hello`:                     `invalid value hello (line 1, column 1)`,
	} {
		err := protojson.Unmarshal([]byte(in), &descriptorpb.FileDescriptorProto{})
		if err == nil {
			t.Fatalf("%s parsed", in)
		}
		if got := DescribeProto(fmt.Errorf("failed to unmarshal: %w", err)); got != want {
			t.Errorf("%s: %q, want %q (from %v)", in, got, want, err)
		}
	}
}
