#!/bin/sh
# The release build: immutos-diff and immutos-verify for linux amd64 and arm64 into $1.
# release.yml runs it once on each of two runners and compares what they made.
set -eu
out=$1
for arch in amd64 arm64; do
	for cmd in diff verify; do
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags '-s -w -buildid=' \
			-o "$out/immutos-$cmd-linux-$arch" "./cmd/$cmd"
	done
done
