#!/usr/bin/env bash
# Interoperability check: bundles made by immutos-verify's attest package with a key
# must verify with cosign (the reference client).
#
#   examples/interop.sh            # (a `make interop` target can call this)
#
# Installs cosign v2.6.5 with `go install` (the first build takes many minutes), makes a
# key pair, signs a blob and a reproducibility statement with attest (through the
# `go run` helper below), then checks:
#   cosign verify-blob --bundle ... --new-bundle-format --key ...
#   cosign verify-blob-attestation --bundle ... --new-bundle-format --key ... --type ...
#   cosign sign-blob with the same (cosign-format encrypted) key -> immutos-verify release
#   immutos-verify release on the same bundles;
#   keys: `immutos-verify keygen` -> cosign signs with it and derives the same public key;
#   `cosign generate-key-pair` -> attest signs with it (the --key path), cosign verifies;
#   immutos-verify rebuild signs a rebuild attestation with that key ->
#   cosign verify-blob-attestation --type https://slsa.dev/verification_summary/v1.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$here"

cosign=${COSIGN:-$(go env GOPATH)/bin/cosign}
if [[ ! -x $cosign ]]; then
	echo "== installing cosign v2.6.5 (go install; slow the first time)"
	go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
fi
"$cosign" version 2>/dev/null | grep -i gitversion || true

echo "== building immutos-verify"
go build -o "$work/immutos-verify" ./cmd/verify

echo "== signing with attest (ECDSA P-256 key in cosign's encrypted format)"
mkdir -p "$work/sign"
cat >"$work/sign/main.go" <<'GO'
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/org/immutos-action/attest"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

func main() {
	dir := os.Args[1]
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	enc, err := attest.EncryptCosignKey(key, []byte(os.Getenv("COSIGN_PASSWORD")))
	check(err)
	check(os.WriteFile(filepath.Join(dir, "cosign.key"), enc, 0o600))
	pub, _ := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	check(os.WriteFile(filepath.Join(dir, "cosign.pub"), pub, 0o644))
	image := filepath.Join(dir, "image.raw")
	check(os.WriteFile(image, []byte("an immutos image\n"), 0o644))

	s, err := attest.KeySigner(filepath.Join(dir, "cosign.key"), []byte(os.Getenv("COSIGN_PASSWORD")))
	check(err)
	b, err := attest.SignBlob(ctx, s, image)
	check(err)
	check(os.WriteFile(filepath.Join(dir, attest.ArtifactBundleName(image)), b, 0o644))
	subj, err := attest.Digest(image)
	check(err)
	d := subj.Digest["sha256"]
	now := time.Now().UTC()
	st, err := attest.NewReproducibility(attest.Reproducibility{
		Reproducible: true, Verdict: attest.VerdictReproducible,
		Builds:           []attest.Build{{ID: "a", StartedOn: now, FinishedOn: now}, {ID: "b", StartedOn: now, FinishedOn: now}},
		Artifacts:        []attest.Artifact{{Name: subj.Name, SHA256: []string{d, d}, Reproducible: true}},
		DifferenceCounts: map[string]int{}, Tool: attest.Tool{Name: "interop", Version: "0"},
	}, []attest.Subject{subj})
	check(err)
	b, err = attest.SignStatement(ctx, s, st)
	check(err)
	check(os.WriteFile(filepath.Join(dir, attest.ReproducibilityBundleName), b, 0o644))

	// A key cosign generated, used as build --key uses it.
	if len(os.Args) > 2 {
		s, err := attest.KeySigner(os.Args[2], []byte(os.Getenv("COSIGN_PASSWORD")))
		check(err)
		b, err := attest.SignBlob(ctx, s, image)
		check(err)
		check(os.WriteFile(filepath.Join(dir, "theirs-signed.sigstore.json"), b, 0o644))
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
GO
export COSIGN_PASSWORD=interop
# The helper is a main package inside the module (so it can import attest); it lives in a
# temporary directory under the module root and is removed afterwards.
helper="$here/.interop-sign-$$"
mkdir -p "$helper"
trap 'rm -rf "$work" "$helper"' EXIT
cp "$work/sign/main.go" "$helper/main.go"
echo "== cosign generate-key-pair (a key for attest to sign with)"
"$cosign" generate-key-pair --output-key-prefix "$work/theirs" >/dev/null
go run "./$(basename "$helper")" "$work" "$work/theirs.key"
ls -l "$work"

# The bundles have no tlog entry (key signing without Rekor), hence --insecure-ignore-tlog;
# cosign still wants a trusted root for the new bundle format: the public-good copy (no
# network needed).
root="$here/attest/trusted_root.public-good.json"
fail=0
echo "== cosign verify-blob (message signature bundle)"
if "$cosign" verify-blob --new-bundle-format --bundle "$work/image.raw.sigstore.json" \
	--key "$work/cosign.pub" --insecure-ignore-tlog=true --trusted-root "$root" "$work/image.raw"; then
	echo "ok"
else
	echo "FAIL"; fail=1
fi

echo "== cosign verify-blob-attestation (reproducibility statement bundle)"
if "$cosign" verify-blob-attestation --new-bundle-format --bundle "$work/reproducibility.sigstore.json" \
	--key "$work/cosign.pub" --insecure-ignore-tlog=true --trusted-root "$root" \
	--type https://github.com/org/immutos-action/reproducibility/v1 "$work/image.raw"; then
	echo "ok"
else
	echo "FAIL"; fail=1
fi

echo "== cosign sign-blob with our encrypted key, verified by immutos-verify"
if "$cosign" sign-blob --key "$work/cosign.key" --tlog-upload=false --new-bundle-format \
	--bundle "$work/cosign-made.sigstore.json" --yes "$work/image.raw" >/dev/null &&
	"$work/immutos-verify" release --bundle "$work/cosign-made.sigstore.json" --key "$work/cosign.pub" \
		--trusted-root "$root" "$work/image.raw"; then
	echo "ok"
else
	echo "FAIL"; fail=1
fi

echo "== immutos-verify keygen: cosign signs with the key and derives the same public key"
if "$work/immutos-verify" keygen --output-key-prefix "$work/ours" >/dev/null &&
	"$cosign" public-key --key "$work/ours.key" >"$work/ours-derived.pub" &&
	cmp "$work/ours.pub" "$work/ours-derived.pub" &&
	"$cosign" sign-blob --key "$work/ours.key" --tlog-upload=false --new-bundle-format \
		--bundle "$work/ours-made.sigstore.json" --yes "$work/image.raw" >/dev/null &&
	"$work/immutos-verify" release --bundle "$work/ours-made.sigstore.json" --key "$work/ours.pub" \
		--trusted-root "$root" "$work/image.raw"; then
	echo "ok"
else
	echo "FAIL"; fail=1
fi

echo "== cosign generate-key-pair key, signed by attest, verified by cosign"
if "$cosign" verify-blob --new-bundle-format --bundle "$work/theirs-signed.sigstore.json" \
	--key "$work/theirs.pub" --insecure-ignore-tlog=true --trusted-root "$root" "$work/image.raw"; then
	echo "ok"
else
	echo "FAIL"; fail=1
fi

echo "== immutos-verify rebuild: a rebuild attestation (signed with cosign's key) verified by cosign"
build="printf 'an immutos image\\n' > {out}/image.raw"
if "$work/immutos-verify" build --mode command --build "$build" --key "$work/cosign.key" \
	--out-dir "$work/release" >/dev/null &&
	"$work/immutos-verify" rebuild --key "$work/cosign.pub" --trusted-root "$root" --build "$build" \
		--sign-key "$work/theirs.key" --out-dir "$work/rebuild" "$work/release" >/dev/null &&
	"$cosign" verify-blob-attestation --new-bundle-format --bundle "$work/rebuild/rebuild.sigstore.json" \
		--key "$work/theirs.pub" --insecure-ignore-tlog=true --trusted-root "$root" \
		--type https://slsa.dev/verification_summary/v1 "$work/release/builds/run-1/image.raw"; then
	echo "ok"
else
	echo "FAIL"; fail=1
fi

echo "== immutos-verify release"
"$work/immutos-verify" release --bundle "$work/image.raw.sigstore.json" \
	--bundle "$work/reproducibility.sigstore.json" --key "$work/cosign.pub" \
	--require-reproducible "$work/image.raw" || fail=1

exit $fail
