#!/usr/bin/env bash
# The hostile inputs of issue 13, timed with their peak memory (make bench
# runs it last; it also runs alone). Fixtures are built once by the real
# tools into $BENCH_DIR/hostile and kept (the 64 GiB sparse squashfs takes
# mksquashfs minutes: it reads the zeros). Goals: at most 30 s and 512 MiB
# each; the sparse and unallocated cases under 1 s.
#   BENCH_DIR=/var/tmp/b RUNS=3 ./examples/bench-hostile.sh
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:-/var/tmp/immutos-bench}/hostile
DIFF=${DIFF:-$PWD/bin/immutos-diff}
RUNS=${RUNS:-3}
mkdir -p "$DIR"
for t in zip mksquashfs qemu-img qemu-io zstd truncate /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench-hostile: missing $t" >&2; exit 2; }
done

# nest OUT STAMP: a 42.zip-style archive, 6 levels of 10 members, 16 MiB
# zero leaves, every member stamped STAMP.
nest() {
	local w cur=leaf
	w=$(mktemp -d "$DIR/nest.XXXX")
	head -c $((16 << 20)) /dev/zero >"$w/leaf"
	touch -d "$2" "$w/leaf"
	for lvl in 1 2 3 4 5 6; do
		mkdir "$w/l$lvl"
		for i in 0 1 2 3 4 5 6 7 8 9; do ln "$w/$cur" "$w/l$lvl/m$i"; done
		(cd "$w/l$lvl" && TZ=UTC zip -q -X -9 "../z$lvl.zip" m0 m1 m2 m3 m4 m5 m6 m7 m8 m9)
		touch -d "$2" "$w/z$lvl.zip"
		cur=z$lvl.zip
	done
	cp "$w/$cur" "$1"
	rm -rf "$w"
}
sqfs() { mksquashfs "$1" "$2" -noappend -quiet -no-progress -mkfs-time 0 -all-time 1 -all-root >/dev/null; }

for s in a b; do
	stamp=$([[ $s == a ]] && echo "2020-01-01 00:00:00" || echo "2021-06-01 12:00:00")
	if [[ ! -f $DIR/zip6-$s.sqfs ]]; then
		rm -rf "$DIR/src-$s" && mkdir -p "$DIR/src-$s"/{1,3,6}
		nest "$DIR/src-$s/1/42.zip" "$stamp"
		for c in 3 6; do for ((i = 0; i < c; i++)); do cp "$DIR/src-$s/1/42.zip" "$DIR/src-$s/$c/42-$i.zip"; done; done
		for c in 1 3 6; do sqfs "$DIR/src-$s/$c" "$DIR/zip$c-$s.sqfs"; done
		rm -rf "$DIR/src-$s"
	fi
	if [[ ! -f $DIR/sparse-$s.sqfs ]]; then
		rm -rf "$DIR/sp-$s" && mkdir "$DIR/sp-$s"
		truncate -s 64G "$DIR/sp-$s/big"
		printf '%s' "$s" | dd of="$DIR/sp-$s/big" bs=1 seek=$((40 << 30)) conv=notrunc status=none
		sqfs "$DIR/sp-$s" "$DIR/sparse-$s.sqfs.tmp" && mv "$DIR/sparse-$s.sqfs.tmp" "$DIR/sparse-$s.sqfs"
		rm -rf "$DIR/sp-$s"
	fi
	if [[ ! -f $DIR/$s.qcow2 ]]; then
		qemu-img create -q -f qcow2 "$DIR/$s.qcow2" 1T
		qemu-io -f qcow2 -c "write -P $([[ $s == a ]] && echo 0x11 || echo 0x22) 1G 64k" "$DIR/$s.qcow2" >/dev/null
	fi
	if [[ ! -f $DIR/$s.raw ]]; then
		truncate -s 1T "$DIR/$s.raw"
		printf '%s' "$s" | dd of="$DIR/$s.raw" bs=1 seek=$((1 << 30)) conv=notrunc status=none
	fi
	if [[ ! -f $DIR/ff-$s.raw.zst ]]; then
		{ head -c $((4 << 30)) /dev/zero | tr '\0' '\377'; printf '%s' "$s"; } | zstd -q -19 -T2 -o "$DIR/ff-$s.raw.zst.tmp"
		mv "$DIR/ff-$s.raw.zst.tmp" "$DIR/ff-$s.raw.zst"
	fi
done

# row LABEL GOAL ARGS...: best wall time of RUNS and the max RSS, with
# TMPDIR pointed at an own directory (cmd/diff/hostile_test.go measures
# the temporary disk of the same inputs).
row() {
	local label=$1 goal=$2 best=999999 rss=0 out t
	shift 2
	local tmp="$DIR/tmp"
	for ((i = 0; i < RUNS; i++)); do
		rm -rf "$tmp" && mkdir "$tmp"
		TMPDIR=$tmp /usr/bin/time -o "$DIR/.time" -f '%e %M' "$DIFF" "$@" >/dev/null 2>&1 || true
		out=$(tail -1 "$DIR/.time")
		t=${out% *}
		rss=$(awk -v a="${out#* }" -v b="$rss" 'BEGIN{print (a>b)?a:b}')
		best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
	done
	printf '| %-58s | %8.2f s | %8d KiB | %s |\n' "$label" "$best" "$rss" "$goal"
}

echo "## hostile inputs (issue 13)"
echo
echo "| input | wall (best of $RUNS) | max RSS | goal |"
echo "|---|---:|---:|---|"
row "42.zip-style nested zip (14 KiB) in a 4 KiB squashfs" "<= 30 s, 512 MiB" "$DIR/zip1-a.sqfs" "$DIR/zip1-b.sqfs"
row "the same, 3 copies" "<= 30 s, 512 MiB" "$DIR/zip3-a.sqfs" "$DIR/zip3-b.sqfs"
row "the same, 6 copies" "<= 30 s, 512 MiB" "$DIR/zip6-a.sqfs" "$DIR/zip6-b.sqfs"
row "64 GiB sparse file in a squashfs, one byte differs" "< 1 s" "$DIR/sparse-a.sqfs" "$DIR/sparse-b.sqfs"
row "two 1 TiB qcow2 images, one written cluster each" "< 1 s" "$DIR/a.qcow2" "$DIR/b.qcow2"
row "two 1 TiB sparse raw files, one byte differs" "< 1 s" "$DIR/a.raw" "$DIR/b.raw"
row "$(du -k "$DIR/ff-a.raw.zst" | cut -f1) KiB .raw.zst pair decoding to 4 GiB of data each" "<= 30 s, 512 MiB" "$DIR/ff-a.raw.zst" "$DIR/ff-b.raw.zst"
row "the same, --max-decoded 1G (exit 2)" "<= 30 s, 512 MiB" --max-decoded 1G "$DIR/ff-a.raw.zst" "$DIR/ff-b.raw.zst"
