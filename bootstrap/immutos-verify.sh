#!/usr/bin/env bash
# How the action gets immutos-verify (action.yml's first step), and the release
# pin that makes the fast path trustworthy.
#
#   immutos-verify.sh                      (in the action) put the binary's path in $GITHUB_OUTPUT
#   immutos-verify.sh source-digest DIR    the digest of the action tree DIR
#   immutos-verify.sh pin VERSION REPO DIST   write bootstrap/release.sha256 for the
#                                          binaries DIST/immutos-verify-linux-{amd64,arm64}
#                                          (make pin-release); the release workflow must
#                                          build them with the same Go version
#   immutos-verify.sh check-pin DIST       fail unless DIST's binaries and this tree match the pin
#
# One path, chosen by the action's own tree, never by the ref's name:
#   - release: the tree holds bootstrap/release.sha256 and its `source` line is the
#     digest of this very tree (so the pinned binaries were built from it). Download
#     the binary for this runner from the release the pin names and check it against the
#     pinned sha256, as sigstore/cosign-installer pins cosign's checksums; then the
#     accepted binary checks its own sigstore bundle against the release workflow's
#     identity and the commit the tag names (a second layer: no bootstrap build). A
#     download that does not match or verify is an error (and is never installed); a tag
#     that cannot be resolved or a download that fails builds from source.
#   - source (a branch, an unreleased commit, a fork, `uses: ./`): go build at the
#     action's tree, cached in the runner's tool cache under the tree's digest, the Go
#     version and the architecture (a second use of the action in a job, and every job
#     of a self-hosted runner, reuse it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pinfile=bootstrap/release.sha256

# source_digest DIR: sha256 over the names and contents of the files of the tree,
# except the pin itself (written after the digest is taken). In a git checkout (a
# release job, `uses: ./`) the files git tracks, so build outputs do not count;
# elsewhere (the copy of the tree a runner downloads for `uses: OWNER/REPO@REF`) every file.
source_digest() {
	(
		cd "$1"
		if [[ -e .git ]]; then
			git ls-files -z
		else
			find . -type f -printf '%P\0'
		fi | grep -zvx -e "$pinfile" | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
	)
}

pin_field() { sed -n "s/^$1 //p" "$2" | head -n1; }

case "${1:-}" in
source-digest)
	source_digest "$2"
	exit 0
	;;
pin)
	version=$2 repo=$3 dist=$4
	root=$(cd "$here/.." && pwd)
	digest=$(source_digest "$root")
	sums=$(cd "$dist" && sha256sum immutos-verify-linux-amd64 immutos-verify-linux-arm64)
	printf '%s\n' "# immutos-verify release binaries built from this tree (bootstrap/immutos-verify.sh pin)." \
		"version $version" "repository $repo" "source $digest" "go $(go env GOVERSION)" "$sums" >"$root/$pinfile"
	exit 0
	;;
check-pin)
	dist=$2
	root=$(cd "$here/.." && pwd)
	if [[ $(pin_field source "$root/$pinfile") != "$(source_digest "$root")" ]]; then
		echo "$pinfile: the source digest is not this tree's: run bootstrap/immutos-verify.sh pin again" >&2
		exit 1
	fi
	if ! (cd "$dist" && grep -E '^[0-9a-f]{64}  ' "$root/$pinfile" | sha256sum -c --strict -); then
		echo "$pinfile: the binaries differ from the pinned ones (pinned with $(pin_field go "$root/$pinfile"), built with $(go env GOVERSION 2>/dev/null || echo '?'))" >&2
		exit 1
	fi
	exit 0
	;;
"") ;;
*)
	echo "usage: immutos-verify.sh [source-digest DIR | pin VERSION REPO DIST | check-pin DIST]" >&2
	exit 2
	;;
esac

: "${ACTION_PATH:?}" "${RUNNER_TEMP:?}" "${GITHUB_OUTPUT:?}"
bin="$RUNNER_TEMP/immutos-bin"
mkdir -p "$bin"
arch=amd64
[[ ${RUNNER_ARCH_NAME:-} == ARM64 ]] && arch=arm64
asset="immutos-verify-linux-$arch"
src=$(source_digest "$ACTION_PATH")
pin="$ACTION_PATH/$pinfile"
from="" kind=""

if [[ -f $pin && $(pin_field source "$pin") == "$src" ]]; then
	version=$(pin_field version "$pin")
	repo=$(pin_field repository "$pin")
	want=$(awk -v a="$asset" '$2 == a { print $1 }' "$pin")
	server=${GITHUB_SERVER_URL:-https://github.com}
	base="$server/$repo/releases/download/$version"
	# The commit the release tag names, for the bundle check below (an annotated tag's
	# peeled commit first).
	tag="refs/tags/$version"
	refs=$(git ls-remote "$server/$repo" "$tag" "$tag^{}" 2>/dev/null) || refs=""
	commit=$(awk -v t="$tag^{}" '$2 == t { print $1 }' <<<"$refs")
	[[ -n $commit ]] || commit=$(awk -v t="$tag" '$2 == t { print $1 }' <<<"$refs")
	if [[ -z $want ]]; then
		echo "::notice::immutos-verify: release $version has no $asset; building from source"
	elif [[ ! $commit =~ ^[0-9a-f]{40}$ ]]; then
		echo "::warning::immutos-verify: cannot resolve $tag of $repo to a commit; building from the action's source instead"
	elif curl -fsSL --retry 3 -o "$bin/$asset.download" "$base/$asset" &&
		curl -fsSL --retry 3 -o "$bin/$asset.sigstore.json" "$base/$asset.sigstore.json"; then
		# First layer, the one that decides: the bytes are the ones this tree pins.
		have=$(sha256sum "$bin/$asset.download" | cut -d' ' -f1)
		if [[ $have != "$want" ]]; then
			rm -f "$bin/$asset.download"
			echo "::error title=immutos-verify download rejected::$base/$asset has sha256 $have, not the $want pinned in the action's $pinfile"
			exit 2
		fi
		chmod 0755 "$bin/$asset.download"
		# Second layer, run by the binary the first layer accepted (no second build): its
		# sigstore bundle must be signed by this repository's release workflow for this
		# tag, on a GitHub-hosted runner, from the commit the tag names.
		if ! "$bin/$asset.download" release --bundle "$bin/$asset.sigstore.json" \
			--certificate-identity "$server/$repo/.github/workflows/release.yml@$tag" \
			--certificate-oidc-issuer https://token.actions.githubusercontent.com \
			--source-repository "$repo" --source-digest "$commit" --deny-self-hosted-runners \
			"$bin/$asset.download"; then
			rm -f "$bin/$asset.download"
			echo "::error title=immutos-verify download rejected::the sigstore bundle of $base/$asset does not verify for $tag ($commit)"
			exit 2
		fi
		mv "$bin/$asset.download" "$bin/immutos-verify"
		from="release $version ($commit; sha256 $want, pinned in the action)" kind=release
	else
		echo "::warning::immutos-verify: could not download $base/$asset; building from source"
	fi
fi

if [[ -z $from ]]; then
	if ! command -v go >/dev/null; then
		echo "::error title=Go not found::immutos-verify: this action ref has no pinned release binary for $asset and no Go to build one; add actions/setup-go before this action"
		exit 2
	fi
	cache="${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/immutos-verify/$src-$(go env GOVERSION)-$arch"
	if [[ -x $cache/immutos-verify ]]; then
		from="the tool cache ($cache)" kind=cache
	else
		mkdir -p "$cache"
		(cd "$ACTION_PATH" && go build -trimpath -ldflags '-s -w -buildid=' -o "$cache/immutos-verify.$$" ./cmd/verify)
		mv -f "$cache/immutos-verify.$$" "$cache/immutos-verify"
		from="source (go build, now in $cache)" kind=source
	fi
	cp "$cache/immutos-verify" "$bin/immutos-verify"
fi
echo "immutos-verify from $from"
{
	echo "bin=$bin/immutos-verify"
	echo "from=$kind"
} >>"$GITHUB_OUTPUT"
