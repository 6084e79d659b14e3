#!/bin/sh
# Run every go test -fuzz target of the module, one at a time.
#
#   examples/fuzz.sh [FUZZTIME] [PACKAGE...]
#
# FUZZTIME is per target (go test -fuzztime syntax: 60s, 5m, 100000x;
# default 60s). PACKAGE limits the run to some packages (default ./...).
# Targets are discovered with `go test -list '^Fuzz'`, so a new target is
# run without editing this script. FUZZPARALLEL sets the worker count
# (default: GOMAXPROCS). A crash stops that target only: the failing
# input is written under the package's testdata/fuzz/<Target>/ (keep it
# there as a regression case once fixed) and the script exits 1 at the end.
#
# -fuzzminimizetime is kept short: the engine targets mutate disk images of
# hundreds of KiB, and minimising every new interesting input of that size
# for the default 60s stalls the fuzzer (it then reports 0 execs/sec).
set -u
cd "$(dirname "$0")/.."
GO=${GO:-go}
fuzztime=${1:-60s}
[ $# -gt 0 ] && shift
pkgs=${*:-./...}
parallel=${FUZZPARALLEL:+-parallel $FUZZPARALLEL}
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
for pkg in $($GO list $pkgs); do
	if ! list=$($GO test -list '^Fuzz' "$pkg" 2>&1); then
		echo "== $pkg: cannot list its tests"
		echo "$list"
		echo "FAIL  $pkg (go test -list failed)" >>"$summary"
		status=1
		continue
	fi
	targets=$(echo "$list" | grep '^Fuzz') || continue
	for t in $targets; do
		echo "== $pkg $t ($fuzztime)"
		log=$(mktemp)
		# shellcheck disable=SC2086
		$GO test -tags immutos_strict -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" -fuzzminimizetime 20x $parallel "$pkg" 2>&1 | tee "$log"
		rc=$?
		if grep -q '^--- FAIL' "$log" || grep -q '^FAIL' "$log"; then
			rc=1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		if [ "$rc" -ne 0 ]; then
			status=1
			echo "FAIL  $pkg $t execs=${execs:-0}" >>"$summary"
		else
			echo "ok    $pkg $t execs=${execs:-0}" >>"$summary"
		fi
		rm -f "$log"
	done
done
echo "== summary (fuzztime $fuzztime per target)"
cat "$summary"
exit $status
