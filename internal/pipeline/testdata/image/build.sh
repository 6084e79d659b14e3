# Builds a tiny golden image (GPT, vfat ESP, squashfs store) with the host's tools, whose
# absolute paths come from tools.nix (written by the test). $embedTime non-empty embeds the
# build time in the store, which makes the image non-reproducible.
set -eu
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
export TZ=UTC MTOOLS_SKIP_CHECK=1
w=$TMPDIR/w
mkdir -p "$w/store/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello/bin" "$out"
printf 'MZ stub boot loader\n' > "$w/BOOTX64.EFI"
printf '#!/bin/sh\necho hello\n' > "$w/store/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello/bin/hello"
if [ -n "$embedTime" ]; then
	date +%s%N > "$w/store/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello/build-time"
fi
find "$w" -exec touch -h -d @1700000000 {} +
"$mkfsvfat" -C -i 1234ABCD -n ESP --invariant "$w/esp.img" 8192 >/dev/null
"$mcopy" -m -i "$w/esp.img" "$w/BOOTX64.EFI" ::/BOOTX64.EFI
"$mksquashfs" "$w/store" "$w/store.img" -noappend -quiet -no-progress -comp gzip -all-root \
	-mkfs-time 1700000000 -all-time 1700000000 -processors 1 >/dev/null
img="$out/nixos.raw"
dd if=/dev/zero of="$img" bs=1M count=14 status=none
printf 'label: gpt\nlabel-id: 8B6C3E34-1D1B-4C4E-9C58-0A6F2F7D1B01\nfirst-lba: 2048\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=8B6C3E34-1D1B-4C4E-9C58-0A6F2F7D1B02, name="ESP"\nstart=18432, size=8192, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=8B6C3E34-1D1B-4C4E-9C58-0A6F2F7D1B03, name="nix-store"\n' \
	| "$sfdisk" --quiet --no-reread --no-tell-kernel "$img" >/dev/null
dd if="$w/esp.img" of="$img" bs=512 seek=2048 conv=notrunc status=none
dd if="$w/store.img" of="$img" bs=512 seek=18432 conv=notrunc status=none
printf 'built\n' > "$out/build-log.txt"
