//go:build !linux

package pipeline

// Outside Linux there is no child subreaper (only the build's process group is killed)
// and no dumpable flag.
func guardProcess() {}
func killOrphans()  {}
