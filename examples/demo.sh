#!/usr/bin/env bash
# make demo: build the example golden image twice with immutos-verify (command mode, a
# pure-Go builder: no mkfs tools, no nix), compare, sign with a throwaway key, then verify
# the signed image like a downloader would. Then the same with a non-reproducible variant.
# Needs only Go. Everything happens in a temporary directory, which is kept and printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
verify="$root/bin/immutos-verify"
[[ -x $verify ]] || go build -trimpath -o bin/immutos-verify ./cmd/verify

work=$(mktemp -d "${TMPDIR:-/tmp}/immutos-demo.XXXXXX")
echo "demo directory: $work"
go build -trimpath -o "$work/goldenimage" ./examples/goldenimage
go build -trimpath -o "$work/keygen" ./examples/goldenimage/keygen
"$work/keygen" "$work/demo-key.pem" "$work/demo-key.pub"

echo
echo "== 1. reproducible image: build twice (varying TZ, LANG, umask, build path, cores), compare, sign"
"$verify" build --mode command --build "'$work/goldenimage' -out-dir {out}" \
	--vary tz,lang,umask,path,cores --key "$work/demo-key.pem" --out-dir "$work/good"

echo
echo "== 2. verify the signed image and its reproducibility attestation"
image="$work/good/builds/run-1/nixos.raw"
"$verify" release --key "$work/demo-key.pub" --bundle "$work/good/nixos.raw.sigstore.json" "$image"
"$verify" release --key "$work/demo-key.pub" --bundle "$work/good/reproducibility.sigstore.json" \
	--require-reproducible "$image"

echo
echo "== 3. a non-reproducible image (it embeds the build time): expect exit 1 and a report"
set +e
"$verify" build --mode command --build "'$work/goldenimage' -embed-build-time -out-dir {out}" \
	--no-sign --out-dir "$work/bad"
rc=$?
set -e
if [[ $rc -ne 1 ]]; then
	echo "demo: expected exit 1 for the non-reproducible image, got $rc" >&2
	exit 1
fi

echo
echo "demo done. Reports:"
echo "  reproducible:     $work/good/report.md  $work/good/report.html  $work/good/index.json"
echo "  not reproducible: $work/bad/report.md   $work/bad/report.html   $work/bad/index.json"
echo "  bundles:          $work/good/*.sigstore.json (public key: $work/demo-key.pub)"
