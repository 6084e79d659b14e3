#!/bin/sh
# Mutation soundness run: flip random bytes of real golden images (squashfs
# and erofs stores), truncate them and append bytes, and check that every
# mutant is reported as different with a difference covering the mutated
# offset (diffimg TestMutationSoundness), then a few mutants through the
# immutos-diff binary (exit status 1; cmd/diff TestMutationCLI).
#
#   examples/mutation.sh [N] [SEED]
#
# N mutants per store and per kind (default 2000; truncation and appended
# bytes get N/4 each). SEED reproduces a run (default: time). Prints one
# MUTATION line per store and kind with the counts docs/trust.md reports.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
n=${1:-2000}
seed=${2:-$(date +%s)}
export IMMUTOS_MUTANTS="$n" IMMUTOS_SEED="$seed"
echo "== mutation: $n mutants per store and kind, seed $seed"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
$GO test -count=1 -timeout 0 -run '^(TestMutationSoundness|TestTruncatedAndAppended)$' -v ./diffimg >"$log" 2>&1 || status=1
grep -E '^(MUTATION|--- |FAIL|ok)|mutation_test.go' "$log" || true
[ $status -eq 0 ] || { echo "== mutation FAILED (full log follows)"; cat "$log"; }
$GO test -count=1 -run '^TestMutationCLI$' -v ./cmd/diff 2>&1 | grep -E '^(--- |FAIL|ok)|mutation_cli_test.go' || status=1
exit $status
