// Package attest makes and checks the sigstore attestations of immutos images.
//
// It builds in-toto v1 statements (SLSA provenance v1 in the shape GitHub's own
// attestations use, and the immutos reproducibility predicate), signs them and plain
// artifacts into sigstore bundles (v0.3) with a key or keylessly (Fulcio + Rekor),
// uploads bundles to the GitHub attestations API, and verifies bundles against a
// policy (identity or key, source repository, signer workflow, runner environment,
// predicate type, reproducibility verdict).
//
// Files, one job each: statement.go (in-toto statement, subjects), digest.go
// (streaming sha256), provenance.go (SLSA provenance from the GitHub env),
// reproducibility.go (our predicate), keypair.go (sign.Keypair over ECDSA/Ed25519),
// cosignkey.go (PEM and cosign encrypted keys), signer.go (key and keyless signers and
// their options), sign.go (bundles), release.go (the bundle files of a release),
// upload.go (GitHub attestations API), bundles.go (reading bundle files),
// trustedroot.go (trusted roots) and verify.go (verification and policy).
package attest
