#!/usr/bin/env bash
# make demo: build the example golden image twice with immutos-verify (command mode, a
# pure-Go builder: no mkfs tools, no nix), compare, sign with a throwaway key, then verify
# the signed image like a downloader would; two independent rebuilders rebuild and attest
# it, and the downloader requires M of N of them. Then a non-reproducible variant.
# Needs only Go. Everything happens in a temporary directory under $TMPDIR, removed at the
# end (about 305 MB of images, reports, bundles and rebuilds); KEEP=1 keeps it and prints where.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# IMMUTOS_VERIFY and IMMUTOS_DIFF name other binaries (the demo's test builds its own).
verify=${IMMUTOS_VERIFY:-$root/bin/immutos-verify}
diff=${IMMUTOS_DIFF:-$root/bin/immutos-diff}
[[ -x $verify ]] || go build -trimpath -o "$verify" ./cmd/verify
[[ -x $diff ]] || go build -trimpath -o "$diff" ./cmd/diff

work=$(mktemp -d "${TMPDIR:-/tmp}/immutos-demo.XXXXXX")
if [[ ${KEEP:-} == 1 ]]; then
	echo "demo directory (kept): $work"
else
	trap 'rm -rf "$work"' EXIT
	echo "demo directory (removed at the end; KEEP=1 keeps it): $work"
fi
echo "== building the example image builder (go build; the first time it compiles go-diskfs: may take a minute)"
go build -trimpath -o "$work/goldenimage" ./examples/goldenimage
echo "== making a throwaway signing key: immutos-verify keygen"
export COSIGN_PASSWORD=demo
"$verify" keygen --output-key-prefix "$work/demo-key"

echo
echo "== 1. reproducible image: build twice (varying TZ, LANG, umask, build path, cores), compare, sign"
"$verify" build --mode command --build "'$work/goldenimage' -out-dir {out}" \
	--vary tz,lang,umask,path,cores --key "$work/demo-key.key" --out-dir "$work/good"

echo
echo "== 2. verify the signed image and its reproducibility attestation"
image="$work/good/builds/run-1/nixos.raw"
"$verify" release --key "$work/demo-key.pub" --bundle "$work/good/nixos.raw.sigstore.json" "$image"
"$verify" release --key "$work/demo-key.pub" --bundle "$work/good/reproducibility.sigstore.json" \
	--require-reproducible "$image"

echo
echo "== 2b. independent rebuilders: alice rebuilds the release bit for bit, carol's build differs"
"$verify" keygen --output-key-prefix "$work/alice" >/dev/null
"$verify" keygen --output-key-prefix "$work/carol" >/dev/null
"$verify" rebuild --key "$work/demo-key.pub" --build "'$work/goldenimage' -out-dir {out}" \
	--sign-key "$work/alice.key" --rebuilder-id alice --out-dir "$work/rebuild-alice" "$work/good" 2>/dev/null
set +e
"$verify" rebuild --key "$work/demo-key.pub" --build "'$work/goldenimage' -embed-build-time -out-dir {out}" \
	--sign-key "$work/carol.key" --rebuilder-id carol --out-dir "$work/rebuild-carol" "$work/good" 2>/dev/null
rc=$?
set -e
if [[ $rc -ne 1 ]]; then
	echo "demo: expected exit 1 (FAILED) for carol's differing rebuild, got $rc" >&2
	exit 1
fi
cat >"$work/rebuilders.json" <<'JSON'
{"threshold": 1, "rebuilders": [{"name": "alice", "key": "alice.pub"}, {"name": "carol", "key": "carol.pub"}]}
JSON
echo "-- a downloader requires 1 of its 2 trusted rebuilders (exit 0), then 2 of 2 (exit 1)"
"$verify" release --key "$work/demo-key.pub" --bundle "$work/good/nixos.raw.sigstore.json" \
	--rebuilders "$work/rebuilders.json" --rebuild-bundle "$work/rebuild-alice/rebuild.sigstore.json" \
	--rebuild-bundle "$work/rebuild-carol/rebuild.sigstore.json" "$image" 2>/dev/null
set +e
"$verify" release --key "$work/demo-key.pub" --bundle "$work/good/nixos.raw.sigstore.json" \
	--rebuilders "$work/rebuilders.json" --rebuild-bundle "$work/rebuild-alice/rebuild.sigstore.json" \
	--rebuild-bundle "$work/rebuild-carol/rebuild.sigstore.json" --require-rebuilders 2 "$image" >/dev/null
rc=$?
set -e
if [[ $rc -ne 1 ]]; then
	echo "demo: expected exit 1 with --require-rebuilders 2, got $rc" >&2
	exit 1
fi

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
echo "== the not-reproducible image's report (text)"
"$diff" --color never "$work/bad/builds/run-1/nixos.raw" "$work/bad/builds/run-2/nixos.raw" || true

echo
if [[ ${KEEP:-} == 1 ]]; then
	echo "demo done. Reports:"
	echo "  reproducible:     $work/good/report.md  $work/good/report.html  $work/good/index.json"
	echo "  not reproducible: $work/bad/report.md   $work/bad/report.html   $work/bad/index.json"
	echo "  bundles:          $work/good/*.sigstore.json (public key: $work/demo-key.pub)"
	echo "  rebuilds:         $work/rebuild-alice/ $work/rebuild-carol/ (rebuild.sigstore.json, reports)"
else
	echo "demo done; its directory is removed (KEEP=1 make demo keeps the images, reports and bundles)."
fi
