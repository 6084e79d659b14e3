package main

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// startProfiles writes profiles on request, for `make bench PROFILE=1`:
// IMMUTOS_CPUPROFILE and IMMUTOS_MEMPROFILE name the files to write. main
// calls it first and the returned stop before exiting.
func startProfiles() (stop func()) {
	var stops []func()
	if p := os.Getenv("IMMUTOS_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
			// An interrupted run still writes its profile.
			c := make(chan os.Signal, 1)
			signal.Notify(c, os.Interrupt, syscall.SIGTERM)
			go func() {
				<-c
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(2)
			}()
		}
	}
	if p := os.Getenv("IMMUTOS_MEMPROFILE"); p != "" {
		stops = append(stops, func() {
			if f, err := os.Create(p); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
