//go:build immutos_strict

package guard

const strict = true
