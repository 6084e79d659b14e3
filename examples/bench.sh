#!/usr/bin/env bash
# make bench: time immutos-diff against cmp (and other tools) on the same
# files in the same run, and report peak memory (max RSS). Builds golden
# images (GPT, vfat ESP, squashfs store of real files from this machine's
# STORE_SRC) of each size in SIZES (MiB), identical and differing in one
# store file; then qcow2 and zstd forms of the 1 GiB pair; then the shifted
# pair (a generated store in which a file in the middle grows); then a squashfs
# store of many small files against sqfsdiff and unsquashfs, and a store of
# LARGE_FILES (300,000) files in squashfs, erofs, ext4 and vfat.
#   BENCH_DIR=/var/tmp/b SIZES="256 1024 4096" SMALL_FILES=100000 LARGE_FILES=300000 ./examples/bench.sh
#   PROFILE=1 also writes CPU and heap profiles of immutos-diff on the
#   differing 1 GiB pair and the shifted pair to $BENCH_DIR/*.prof.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"256 1024 4096"}
# Real files that compress to well under 256 MiB (~400 MiB, ~20k files).
STORE_SRC=${STORE_SRC:-"/usr/share/doc /usr/share/perl5 /usr/share/zoneinfo /usr/share/i18n /usr/share/locale /usr/bin"}
SMALL_FILES=${SMALL_FILES:-100000}
FAST_RUNS=${FAST_RUNS:-9}
DIR=${BENCH_DIR:-/var/tmp/immutos-bench}
DIFF=${DIFF:-$PWD/bin/immutos-diff}
RUNS=${RUNS:-3}
mkdir -p "$DIR"
for t in mkfs.vfat mcopy mksquashfs sfdisk /usr/bin/time cmp qemu-img zstd; do
	command -v "$t" >/dev/null || { echo "bench: missing $t" >&2; exit 2; }
done

# store NAME CONTENT: a squashfs of STORE_SRC plus version.txt.
store() {
	local out=$DIR/store-$1.sqfs
	[[ -f $out ]] && return
	rm -rf "$DIR/src-$1" && mkdir -p "$DIR/src-$1"
	printf '%s\n' "$2" >"$DIR/src-$1/version.txt"
	# shellcheck disable=SC2086
	mksquashfs $STORE_SRC "$DIR/src-$1/version.txt" "$out.tmp" -noappend -quiet -no-progress \
		-comp zstd -mkfs-time 0 -all-time 1 -all-root >/dev/null
	mv "$out.tmp" "$out"
	rm -rf "$DIR/src-$1"
}

# image NAME SIZE_MIB STORE: STORE names $DIR/store-STORE.sqfs, or is a path
image() {
	local img=$DIR/$1-$2.raw esp=$DIR/esp.img size=$2 st=$3
	[[ $st == /* ]] || st=$DIR/store-$st.sqfs
	[[ -f $img && $(stat -c %s "$img") == $((size * 1048576)) ]] && return
	if [[ ! -f $esp ]]; then
		mkfs.vfat -C --invariant -i 1234ABCD -n ESP "$esp" $((64 * 1024)) >/dev/null
		MTOOLS_SKIP_CHECK=1 mcopy -m -i "$esp" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/BOOTX64.EFI 2>/dev/null || true
	fi
	local store_mib=$((size - 66)) need
	need=$(( ($(stat -c %s "$st") + 1048575) / 1048576 ))
	((need <= store_mib)) || { echo "bench: store ($need MiB) does not fit $size MiB" >&2; exit 2; }
	rm -f "$img" && truncate -s $((size * 1048576)) "$img"
	printf 'label: gpt\nlabel-id: 6F1A1B2C-0000-4000-8000-000000000001\nstart=2048, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=6F1A1B2C-0000-4000-8000-000000000002\nstart=%d, size=%d, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=6F1A1B2C-0000-4000-8000-000000000003, name="nix-store"\n' \
		$((64 * 2048)) $((65 * 2048)) $((store_mib * 2048)) | sfdisk --quiet "$img" >/dev/null
	dd if="$esp" of="$img" bs=1M seek=1 conv=notrunc status=none
	dd if="$st" of="$img" bs=1M seek=65 conv=notrunc status=none
}

# timeit LABEL CMD...: best wall time of RUNS runs (page cache warm), and the max RSS.
timeit() {
	local label=$1 best=999999 rss=0 out t runs=$RUNS
	shift
	for ((i = 0; i < runs; i++)); do
		/usr/bin/time -o "$DIR/.time" -f '%e %M' "$@" >/dev/null 2>&1 || true
		out=$(tail -1 "$DIR/.time")
		t=${out% *}
		rss=$(awk -v a="${out#* }" -v b="$rss" 'BEGIN{print (a>b)?a:b}')
		best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
		# Sub-second runs are the noisiest here (scheduling, page faults):
		# give them at least FAST_RUNS tries, whichever tool it is.
		if ((i == 0)) && awk -v t="$t" 'BEGIN{exit !(t < 1)}'; then
			runs=$((RUNS > FAST_RUNS ? RUNS : FAST_RUNS))
		fi
	done
	printf '| %-52s | %8.2f s | %8d KiB |\n' "$label" "$best" "$rss"
	LAST=$best
	LASTRSS=$rss
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b<=0.005) b=0.005; printf "%.2fx", a/b }'; }
warm() { cat "$@" >/dev/null; }

echo "building stores and images in $DIR (kept for the next run) ..." >&2
store a "version 1"
store b "version 2"
for s in $SIZES; do
	image a "$s" a; image a2 "$s" a; image b "$s" b
done
for s in $SIZES; do
	[[ -f $DIR/a-$s.raw ]] || { echo "bench: image a-$s.raw missing" >&2; exit 2; }
done

echo "## immutos-diff benchmark"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $($DIFF --version 2>/dev/null || echo immutos-diff)"
echo "images: GPT + 64 MiB vfat ESP + squashfs (zstd) store of $STORE_SRC ($(du -sh "$DIR/store-a.sqfs" | cut -f1) compressed), padded to each size; b differs in one store file"
echo
echo "| run | wall (best of $RUNS, of $FAST_RUNS under 1 s) | max RSS |"
echo "|---|---:|---:|"
declare -A CMP ID DF LG LGRSS
for s in $SIZES; do
	a=$DIR/a-$s.raw a2=$DIR/a2-$s.raw b=$DIR/b-$s.raw
	cmp -s "$a" "$a2" || { echo "bench: the pinned pair differs at $s MiB" >&2; exit 2; }
	warm "$a" "$a2" "$b"
	timeit "cmp, identical pair, $s MiB" cmp "$a" "$a2"; CMP[$s]=$LAST
	timeit "immutos-diff, identical pair, $s MiB" "$DIFF" "$a" "$a2"; ID[$s]=$LAST
	timeit "immutos-diff, pair differing in one file, $s MiB" "$DIFF" "$a" "$b"; DF[$s]=$LAST
	out=$("$DIFF" "$a" "$b" || true)
	grep -q version.txt <<<"$out" || echo "bench: the changed file was not named at $s MiB" >&2
done
s1=1024
if [[ " $SIZES " == *" 1024 "* ]]; then
	a=$DIR/a-1024.raw b=$DIR/b-1024.raw a2=$DIR/a2-1024.raw
	timeit "immutos-diff --digests, identical pair, 1024 MiB" "$DIFF" --digests "$a" "$a2"; DIG=$LAST
	timeit "sha256sum both, 1024 MiB" sha256sum "$a" "$a2"; SHA=$LAST
	# containers
	for n in a a2 b; do
		[[ -f $DIR/$n-1024.qcow2 ]] || qemu-img convert -f raw -O qcow2 "$DIR/$n-1024.raw" "$DIR/$n-1024.qcow2"
		[[ -f $DIR/$n-1024.raw.zst ]] || zstd -q -T2 "$DIR/$n-1024.raw" -o "$DIR/$n-1024.raw.zst"
	done
	warm "$DIR"/a-1024.qcow2 "$DIR"/a2-1024.qcow2 "$DIR"/b-1024.qcow2 "$DIR"/*-1024.raw.zst
	# qemu-img cannot write to /dev/null: decode into memory (/dev/shm) instead.
	timeit "qemu-img convert -O raw into /dev/shm, both qcow2" sh -c "qemu-img convert -O raw '$DIR/a-1024.qcow2' /dev/shm/immutos-bench.raw && qemu-img convert -O raw '$DIR/a2-1024.qcow2' /dev/shm/immutos-bench.raw; rm -f /dev/shm/immutos-bench.raw"; QDEC=$LAST
	timeit "qemu-img compare, identical qcow2 pair" qemu-img compare -f qcow2 -F qcow2 "$DIR/a-1024.qcow2" "$DIR/a2-1024.qcow2"; QCMP=$LAST
	timeit "immutos-diff, identical qcow2 pair, 1024 MiB" "$DIFF" "$DIR/a-1024.qcow2" "$DIR/a2-1024.qcow2"; QID=$LAST
	timeit "immutos-diff, differing qcow2 pair, 1024 MiB" "$DIFF" "$DIR/a-1024.qcow2" "$DIR/b-1024.qcow2"; QDF=$LAST
	timeit "zstd -d to /dev/null, both" sh -c "zstd -qdc '$DIR/a-1024.raw.zst' >/dev/null && zstd -qdc '$DIR/a2-1024.raw.zst' >/dev/null"; ZDEC=$LAST
	timeit "immutos-diff, identical .zst pair, 1024 MiB" "$DIFF" "$DIR/a-1024.raw.zst" "$DIR/a2-1024.raw.zst"; ZID=$LAST
	timeit "immutos-diff, differing .zst pair, 1024 MiB" "$DIFF" "$DIR/a-1024.raw.zst" "$DIR/b-1024.raw.zst"; ZDF=$LAST
	timeit "same, Go decoder only (IMMUTOS_GO_DECODERS=1)" env IMMUTOS_GO_DECODERS=1 "$DIFF" "$DIR/a-1024.raw.zst" "$DIR/b-1024.raw.zst"
	if [[ -n ${PROFILE:-} ]]; then
		IMMUTOS_CPUPROFILE=$DIR/cpu.prof IMMUTOS_MEMPROFILE=$DIR/heap.prof "$DIFF" "$a" "$b" >/dev/null || true
		echo "profiles: $DIR/cpu.prof $DIR/heap.prof (go tool pprof bin/immutos-diff ...)" >&2
	fi
fi

# The shifted pairs (issue 17): a generated store (examples/shiftstore.py,
# SHIFT_PACKAGES packages of text and binary-like files, about 0.7 GiB at
# 3000) in which a text file in the middle grows, so every file packed
# after it moves. squashfs (zstd): the file is 50 bytes longer; erofs
# (lz4hc): 8 KiB longer (erofs packs whole blocks: 50 bytes move nothing).
# First in a 1 GiB image, then in each of SHIFT_BIG_SIZES (MiB; "" skips
# them), where every package also holds a data file of seeded random runs
# (packed to about two thirds) so the store fills the image with real
# data: a big image of holes would measure little. The big sets take 5
# images of their size on disk (squashfs a, a2, b; erofs a, b) and, while
# being built, a tree of 1.5 times their size and one store: 4096 about
# 30 GiB at the peak, 20 GiB kept; 16384 about 110 GiB, 80 GiB kept. The
# identical pair of each size (a, a2) is timed too, for the time per GiB
# (linear: within 1.2x the first big size's figure). COLD=1 adds the identical pair of the first
# big size with the page cache dropped before each run (needs root: it
# writes /proc/sys/vm/drop_caches, which slows everything else running).
#   SHIFT_BIG_SIZES="4096 16384" COLD=1 ./examples/bench.sh
SHIFT_PACKAGES=${SHIFT_PACKAGES:-3000}
SHIFT_BIG_SIZES=${SHIFT_BIG_SIZES:-4096}
# shift_tree BLOB_KIB ARGS...: write the generated tree in $DIR/shift-src,
# or, when this run wrote it with the same BLOB_KIB, only the README the
# ARGS (--grow, --grow-bytes=N or none) change.
shift_tree() {
	local blob=$1
	shift
	if [[ $TREE_BLOB == "$blob" ]]; then
		python3 examples/shiftstore.py "$DIR/shift-src" "$SHIFT_PACKAGES" --readme-only "$@"
		return
	fi
	rm -rf "$DIR/shift-src" && mkdir -p "$DIR/shift-src"
	python3 examples/shiftstore.py "$DIR/shift-src" "$SHIFT_PACKAGES" --blob-kib="$blob" "$@"
	TREE_BLOB=$blob
}
TREE_BLOB=none
# pack FORMAT OUT: the tree as a squashfs or erofs store, unless OUT exists.
pack() {
	[[ -f $2 ]] && return
	if [[ $1 == sqfs ]]; then
		# zstd level 3 (not mksquashfs's 15) so the 0.7 GiB build takes a
		# minute, not ten; decoding costs about the same at either level.
		mksquashfs "$DIR/shift-src" "$2.tmp" -noappend -quiet -no-progress \
			-comp zstd -Xcompression-level 3 -mkfs-time 0 -all-time 1 -all-root >/dev/null
	else
		mkfs.erofs -zlz4hc -T0 -U 6f1a1b2c-0000-4000-8000-000000000017 --all-root --quiet "$2.tmp" "$DIR/shift-src" >/dev/null
	fi
	mv "$2.tmp" "$2"
}
# shift_set SIZE: the images shift-{a,a2,b}-SIZE.raw (squashfs) and
# shift-erofs-{a,b}-SIZE.raw, built once. The 1 GiB set keeps its stores
# (store-shift-*); a big set keeps only its images, each store removed
# once its images are written (at most the tree, one store and the images
# on disk at a time).
shift_set() {
	local size=$1 blob=0 st=$DIR/store-shift n
	if ((size != 1024)); then
		# data files that bring the erofs store (the larger: text and
		# binaries 0.3 GiB, data packed to 0.665) to about 300 MiB less
		# than the image
		blob=$(( (size - 600) * 1024 * 1000 / 665 / SHIFT_PACKAGES )) st=$DIR/store-shift$size
	fi
	for n in shift-a shift-a2 shift-b shift-erofs-a shift-erofs-b; do
		[[ -f $DIR/$n-$size.raw && $(stat -c %s "$DIR/$n-$size.raw") == $((size * 1048576)) ]] || break
		n=
	done
	[[ -z $n ]] && return
	echo "building the shifted pairs of $size MiB ..." >&2
	# stage FORMAT TREE_ARG STORE IMAGE...: the store (from the tree with
	# TREE_ARG), then its images.
	stage() {
		local fmt=$1 arg=$2 store=$3 img
		shift 3
		for img; do [[ -f $DIR/$img-$size.raw ]] || break; img=; done
		[[ -z $img ]] && return
		if [[ ! -f $store ]]; then
			# shellcheck disable=SC2086 # no argument when empty
			shift_tree "$blob" $arg
			pack "$fmt" "$store"
		fi
		for img; do image "$img" "$size" "$store"; done
		((size == 1024)) || rm -f "$store"
	}
	stage sqfs "" "$st-a.sqfs" shift-a shift-a2
	stage erofs "" "$st-a.erofs" shift-erofs-a
	stage sqfs --grow "$st-b.sqfs" shift-b
	stage erofs --grow-bytes=8192 "$st-b.erofs" shift-erofs-b
	rm -rf "$DIR/shift-src"
	TREE_BLOB=none
}
# timecold LABEL CMD...: timeit with the page cache dropped before each run.
timecold() {
	local label=$1 best=999999 rss=0 out t
	shift
	for ((i = 0; i < RUNS; i++)); do
		sync && echo 3 >/proc/sys/vm/drop_caches
		/usr/bin/time -o "$DIR/.time" -f '%e %M' "$@" >/dev/null 2>&1 || true
		out=$(tail -1 "$DIR/.time")
		t=${out% *}
		rss=$(awk -v a="${out#* }" -v b="$rss" 'BEGIN{print (a>b)?a:b}')
		best=$(awk -v a="$t" -v b="$best" 'BEGIN{print (a<b)?a:b}')
	done
	printf '| %-52s | %8.2f s | %8d KiB |\n' "$label" "$best" "$rss"
	LAST=$best
}
declare -A SHCMP SHID SHDF SHER SHRSS SHERRSS
SHSIZES=()
if ((SHIFT_PACKAGES > 0)) && command -v python3 >/dev/null && command -v mkfs.erofs >/dev/null; then
	SHSIZES=(1024 $SHIFT_BIG_SIZES)
fi
for s in "${SHSIZES[@]}"; do
	shift_set "$s"
	a=$DIR/shift-a-$s.raw a2=$DIR/shift-a2-$s.raw b=$DIR/shift-b-$s.raw ea=$DIR/shift-erofs-a-$s.raw eb=$DIR/shift-erofs-b-$s.raw
	cmp -s "$a" "$a2" || { echo "bench: the pinned shifted pair differs at $s MiB" >&2; exit 2; }
	warm "$a" "$a2" "$b"
	timeit "cmp, identical pair (shifted store), $s MiB" cmp "$a" "$a2"; SHCMP[$s]=$LAST
	timeit "immutos-diff, identical pair (shifted store), $s MiB" "$DIFF" "$a" "$a2"; SHID[$s]=$LAST
	timeit "immutos-diff, shifted pair (squashfs), $s MiB" "$DIFF" "$a" "$b"; SHDF[$s]=$LAST; SHRSS[$s]=$LASTRSS
	out=$("$DIFF" "$a" "$b" || true)
	grep -q README <<<"$out" || echo "bench: the grown file was not named in the shifted squashfs pair, $s MiB" >&2
	warm "$ea" "$eb"
	timeit "immutos-diff, shifted pair (erofs), $s MiB" "$DIFF" "$ea" "$eb"; SHER[$s]=$LAST; SHERRSS[$s]=$LASTRSS
	out=$("$DIFF" "$ea" "$eb" || true)
	grep -q README <<<"$out" || echo "bench: the grown file was not named in the shifted erofs pair, $s MiB" >&2
	if [[ -n ${PROFILE:-} && $s == 1024 ]]; then
		IMMUTOS_CPUPROFILE=$DIR/shift-cpu.prof IMMUTOS_MEMPROFILE=$DIR/shift-heap.prof "$DIFF" "$a" "$b" >/dev/null || true
		echo "profiles: $DIR/shift-cpu.prof $DIR/shift-heap.prof" >&2
	fi
done
if [[ ${COLD:-} == 1 && ${#SHSIZES[@]} -gt 1 ]]; then
	s=${SHSIZES[1]} a=$DIR/shift-a-${SHSIZES[1]}.raw a2=$DIR/shift-a2-${SHSIZES[1]}.raw
	timecold "cmp, identical pair, $s MiB, cold cache" cmp "$a" "$a2"; CCMP=$LAST
	timecold "immutos-diff, identical pair, $s MiB, cold cache" "$DIFF" "$a" "$a2"; CID=$LAST
fi

# small_store N DIR FORMAT...: a pair of images of N small files in 1000
# directories (a, and b with 100 of them one line longer), in each FORMAT
# (sqfs: squashfs zstd; erofs: lz4hc; plain.erofs: uncompressed; ext4:
# mkfs.ext4 -d, 1 KiB blocks; vfat: FAT32 of 512-byte clusters filled by
# mcopy), built once and kept in DIR. Every file and directory has the
# same time, so only content differs.
small_store() {
	local n=$1 sm=$2 fmt have=1
	shift 2
	for fmt in "$@"; do [[ -f $sm/b.$fmt ]] || have=; done
	[[ -n $have ]] && return
	rm -rf "$sm" && mkdir -p "$sm/tree"
	awk -v n="$n" -v d="$sm/tree" 'BEGIN{for(i=0;i<n;i++){dir=sprintf("%s/p%03d",d,i%1000); if(i<1000) system("mkdir -p " dir); f=sprintf("%s/f%06d",dir,i); printf "file %d %s\n", i, "nix store file content padding padding padding" > f; close(f)}}'
	find "$sm/tree" -exec touch -h -d @1700000000 {} +
	pack() {
		local uuid=00000000-0000-0000-0000-000000000001 img
		for fmt in "${@:2}"; do
			img=$sm/$1.$fmt
			case $fmt in
			# -no-duplicates: same-sized files make the duplicate check
			# quadratic (minutes at 300,000 files); none are duplicates.
			sqfs) mksquashfs "$sm/tree" "$img" -noappend -quiet -no-progress -no-duplicates -comp zstd -mkfs-time 0 -all-time 1 -all-root >/dev/null ;;
			erofs) mkfs.erofs -zlz4hc -T0 -U $uuid --all-root --quiet "$img" "$sm/tree" >/dev/null ;;
			plain.erofs) mkfs.erofs -T0 -U $uuid --all-root --quiet "$img" "$sm/tree" >/dev/null ;;
			ext4) E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -b 1024 -I 256 -N $((n + n / 16 + 1024)) -U $uuid \
				-E hash_seed=$uuid,root_owner=0:0 -d "$sm/tree" "$img" $((n * 3 / 2 / 1024 + 64))M >/dev/null ;;
			vfat) rm -f "$img"
				TZ=UTC mkfs.vfat -C -F 32 -S 512 -s 1 --invariant -i 1234ABCD -n STORE "$img" $((n + 40960)) >/dev/null
				TZ=UTC MTOOLS_SKIP_CHECK=1 mcopy -s -m -i "$img" "$sm/tree"/* ::/ ;;
			esac
		done
	}
	pack a "$@"
	local f
	for ((i = 0; i < 100; i++)); do
		f=$sm/tree/p$(printf %03d $((i * 7 % 1000)))/f$(printf %06d $((i * 997 % n / 1000 * 1000 + i * 7 % 1000)))
		[[ -f $f ]] || continue
		echo changed >>"$f"
		touch -d @1700000000 "$f" "${f%/*}"
	done
	pack b "$@"
	rm -rf "$sm/tree"
}

# many small files, and a quarter as many for the growth in file count
if ((SMALL_FILES > 0)); then
	quarter=$((SMALL_FILES / 4))
	sm=$DIR/small
	small_store "$SMALL_FILES" "$sm" sqfs erofs
	small_store "$quarter" "$DIR/small-$quarter" sqfs
	warm "$sm/a.sqfs" "$sm/b.sqfs" "$DIR/small-$quarter/a.sqfs" "$DIR/small-$quarter/b.sqfs"
	timeit "immutos-diff, squashfs $quarter files, 100 differ" "$DIFF" "$DIR/small-$quarter/a.sqfs" "$DIR/small-$quarter/b.sqfs"; SQ4=$LAST
	timeit "immutos-diff, squashfs $SMALL_FILES files, 100 differ" "$DIFF" "$sm/a.sqfs" "$sm/b.sqfs"; SQ=$LAST
	if command -v sqfsdiff >/dev/null; then
		timeit "sqfsdiff (squashfs-tools-ng), same pair" sqfsdiff -a "$sm/a.sqfs" -b "$sm/b.sqfs"; SD=$LAST
	fi
	timeit "unsquashfs -lls, one image" unsquashfs -lls "$sm/a.sqfs"; UL=$LAST
	if command -v mkfs.erofs >/dev/null; then
		warm "$sm/a.erofs" "$sm/b.erofs"
		timeit "immutos-diff, erofs (lz4hc) $SMALL_FILES files, 100 differ" "$DIFF" "$sm/a.erofs" "$sm/b.erofs"
	fi
fi

# A desktop closure (issue 17): LARGE_FILES small files (300,000) in
# every format the engine walks, 100 of them differing: squashfs against
# sqfsdiff, erofs against fsck.erofs --extract of one image (it decodes
# every file, writing nothing), and the peak memory of each. Building
# the ten images takes about two minutes here (kept for the next run);
# the rows about a minute. LARGE_FILES=0 skips them.
LARGE_FILES=${LARGE_FILES:-300000}
if ((LARGE_FILES > 0)) && command -v mkfs.erofs >/dev/null && command -v mkfs.ext4 >/dev/null; then
	lg=$DIR/large-$LARGE_FILES
	small_store "$LARGE_FILES" "$lg" sqfs erofs plain.erofs ext4 vfat
	for fmt in sqfs erofs plain.erofs ext4 vfat; do
		case $fmt in
		sqfs) name="squashfs (zstd)" ;; erofs) name="erofs (lz4hc)" ;; plain.erofs) name="erofs (uncompressed)" ;; *) name=$fmt ;;
		esac
		warm "$lg/a.$fmt" "$lg/b.$fmt"
		timeit "immutos-diff, $name $LARGE_FILES files, 100 differ" "$DIFF" "$lg/a.$fmt" "$lg/b.$fmt"
		LG[$fmt]=$LAST LGRSS[$fmt]=$LASTRSS
		out=$("$DIFF" "$lg/a.$fmt" "$lg/b.$fmt" || true)
		grep -q "f000000" <<<"$out" || echo "bench: the changed files were not named in the $fmt pair" >&2
	done
	if command -v sqfsdiff >/dev/null; then
		timeit "sqfsdiff, squashfs pair of $LARGE_FILES files" sqfsdiff -a "$lg/a.sqfs" -b "$lg/b.sqfs"; LGSD=$LAST
	fi
	command -v fsck.erofs >/dev/null && { timeit "fsck.erofs --extract, one erofs (lz4hc) image" fsck.erofs --extract "$lg/a.erofs"; LGFSCK=$LAST; }
fi

# diffoscope last: it takes tens of seconds and most of the memory, which
# would disturb the timings after it.
if [[ " $SIZES " == *" 1024 "* ]] && command -v diffoscope >/dev/null; then
	RUNS=1 timeit "diffoscope, pair differing in one file, 1024 MiB" timeout 1800 diffoscope --no-progress "$DIR/a-1024.raw" "$DIR/b-1024.raw"; DO=$LAST
fi

echo
echo "| target | measured | goal |"
echo "|---|---:|---|"
for s in $SIZES; do
	echo "| identical $s MiB / cmp | $(ratio "${ID[$s]}" "${CMP[$s]}") | <= 1.3x |"
	echo "| differing $s MiB / cmp identical | $(ratio "${DF[$s]}" "${CMP[$s]}") | <= 1.5x |"
done
for s in $SIZES; do
	echo "| time per GiB, identical pair, $s MiB | $(awk -v t="${ID[$s]}" -v s="$s" 'BEGIN{printf "%.2f s", t/(s/1024)}') | linear |"
done
if [[ -n ${QID:-} ]]; then
	echo "| identical --digests 1 GiB / cmp | $(ratio "$DIG" "${CMP[1024]}") | (sha256sum both: $(ratio "$SHA" "${CMP[1024]}")) |"
	echo "| identical qcow2 / (qemu-img decode + raw compare) | $(ratio "$QID" "$(awk -v a="$QDEC" -v b="${ID[1024]}" 'BEGIN{print a+b}')") | <= 1.3x |"
	echo "| identical qcow2 / qemu-img compare | $(ratio "$QID" "$QCMP") | |"
	echo "| differing qcow2 / (qemu-img decode + raw compare) | $(ratio "$QDF" "$(awk -v a="$QDEC" -v b="${DF[1024]}" 'BEGIN{print a+b}')") | <= 1.3x |"
	echo "| identical .zst / (zstd -d + raw compare) | $(ratio "$ZID" "$(awk -v a="$ZDEC" -v b="${ID[1024]}" 'BEGIN{print a+b}')") | <= 1.3x |"
	echo "| differing .zst / (zstd -d + raw compare) | $(ratio "$ZDF" "$(awk -v a="$ZDEC" -v b="${DF[1024]}" 'BEGIN{print a+b}')") | <= 1.3x |"
fi
for s in "${SHSIZES[@]}"; do
	echo "| shifted squashfs $s MiB / cmp identical | $(ratio "${SHDF[$s]}" "${SHCMP[$s]}") (peak $((SHRSS[$s] / 1024)) MiB) | <= 1.5x, < 256 MiB |"
	echo "| shifted erofs $s MiB / cmp identical | $(ratio "${SHER[$s]}" "${SHCMP[$s]}") (peak $((SHERRSS[$s] / 1024)) MiB) | <= 1.5x, < 256 MiB |"
done
# Time per GiB of the big (filled) sizes against the first of them: the
# 1 GiB set is mostly holes (its store is 0.2-0.3 GiB), which a raw pair
# skips unread, so its per-GiB figure is not comparable.
for s in "${SHSIZES[@]:1}"; do
	r=${SHSIZES[1]}
	per() { awk -v t="$1" -v s="$s" -v t1="$2" -v r="$r" 'BEGIN{printf "%.2f s (%.2fx the %d MiB figure)", t/(s/1024), (t/(s/1024))/(t1/(r/1024)), r}'; }
	echo "| time per GiB, identical pair (filled store), $s MiB | $(per "${SHID[$s]}" "${SHID[$r]}") | within 1.2x |"
	echo "| time per GiB, shifted squashfs pair, $s MiB | $(per "${SHDF[$s]}" "${SHDF[$r]}") | within 1.2x |"
	echo "| time per GiB, shifted erofs pair, $s MiB | $(per "${SHER[$s]}" "${SHER[$r]}") | within 1.2x |"
done
[[ -n ${CID:-} ]] && echo "| identical ${SHSIZES[1]} MiB cold / cmp cold | $(ratio "$CID" "$CCMP") | <= 1.1x |"
[[ -n ${DO:-} ]] && echo "| diffoscope / immutos-diff, differing 1 GiB | $(ratio "$DO" "${DF[1024]}") | >= 20x |"
if [[ -n ${SQ:-} ]]; then
	[[ -n ${SD:-} ]] && echo "| squashfs $SMALL_FILES files / sqfsdiff | $(ratio "$SQ" "$SD") | <= 1.5x |"
	echo "| squashfs $SMALL_FILES files / unsquashfs -lls one image | $(ratio "$SQ" "$UL") | < 1x |"
	for c in "$quarter $SQ4" "$SMALL_FILES $SQ"; do
		set -- $c
		echo "| time per 1000 files, squashfs pair of $1 files | $(awk -v t="$2" -v n="$1" 'BEGIN{printf "%.1f ms", t/n*1000*1000}') | linear |"
	done
fi
if [[ -n ${LG[sqfs]:-} ]]; then
	[[ -n ${LGSD:-} ]] && echo "| squashfs $LARGE_FILES files / sqfsdiff | $(ratio "${LG[sqfs]}" "$LGSD") | <= 1.5x |"
	[[ -n ${LGFSCK:-} ]] && echo "| erofs (lz4hc) $LARGE_FILES files / fsck.erofs --extract one image | $(ratio "${LG[erofs]}" "$LGFSCK") | (printed) |"
	echo "| time per 1000 files, squashfs pair of $LARGE_FILES files | $(awk -v t="${LG[sqfs]}" -v n="$LARGE_FILES" 'BEGIN{printf "%.1f ms", t/n*1000*1000}') | linear |"
	for fmt in sqfs erofs plain.erofs ext4 vfat; do
		echo "| peak, $fmt pair of $LARGE_FILES files | $((LGRSS[$fmt] / 1024)) MiB | < 256 MiB |"
	done
fi

# the hostile inputs of issue 13 (HOSTILE=0 skips them)
if [[ ${HOSTILE:-1} != 0 ]]; then
	echo
	BENCH_DIR=${BENCH_DIR:-/var/tmp/immutos-bench} DIFF=$DIFF ./examples/bench-hostile.sh
fi
