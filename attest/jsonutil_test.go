package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
func b64encode(b []byte) string          { return base64.StdEncoding.EncodeToString(b) }

func jsonCompact(dst *bytes.Buffer, src []byte) error { return json.Compact(dst, src) }
