#!/usr/bin/env python3
"""Write the shifted bench pair's tree: PACKAGES packages of text and
binary-like files from a fixed seed (the same bytes on every machine).
With --grow, the text file of the middle package is 50 bytes longer, so
every file packed after it moves in squashfs. --grow-bytes=N also inserts
N seeded random hex digits there: erofs packs data in whole blocks, so 50
bytes of text move nothing; 4 KiB or more of text lz4 cannot pack (no
repeats to find) move every pcluster after it. --blob-kib=K adds to each package a K KiB data file of
seeded random runs each followed by a partial copy (lz4 and zstd pack it
to about two thirds, quickly), to fill a large image with a store without
writing many times its size. --readme-only rewrites only the middle
package's README of a tree written before (with the same PACKAGES): a
grown tree from the plain one without writing it all again.
Usage: shiftstore.py DIR PACKAGES [--grow] [--grow-bytes=N] [--blob-kib=K] [--readme-only]"""
import os
import random
import sys

out, packages = sys.argv[1], int(sys.argv[2])
opts = dict(a.split("=", 1) if "=" in a else (a, "") for a in sys.argv[3:])
grow_bytes = int(opts.get("--grow-bytes", 0))
grow = "--grow" in opts or grow_bytes > 0
blob = int(opts.get("--blob-kib", 0)) * 1024
readme_only = "--readme-only" in opts


def blob_bytes(seed, n):
    r, out = random.Random(seed), bytearray()
    while len(out) < n:
        run = r.randbytes(r.randint(24, 64))
        out += run + run[:r.randint(16, len(run))]
    return bytes(out[:n])


rng = random.Random(17)
words = ["store", "package", "version", "build", "closure", "hash", "path", "nix",
         "derivation", "output", "input", "system", "library", "binary", "runtime",
         "the", "a", "of", "and", "to", "is", "in", "for", "with", "from", "by"]
CODE = bytes(v >> 2 if v < 128 else 0 for v in range(256))
lines = [" ".join(rng.choices(words, k=rng.randint(4, 14))) + "\n" for _ in range(4096)]
for p in range(packages):
    d = os.path.join(out, "p%05d-pkg" % p)
    os.makedirs(os.path.join(d, "share/doc"), exist_ok=True)
    os.makedirs(os.path.join(d, "lib"), exist_ok=True)
    text = "".join(rng.choices(lines, k=rng.randint(100, 2500)))
    middle = p == packages // 2
    if grow and middle:
        inserted = "grown by fifty bytes in the middle of the store.\n"
        if grow_bytes:
            inserted += random.Random(18).randbytes(grow_bytes).hex()[:grow_bytes]
        text = text[:len(text) // 2] + inserted + text[len(text) // 2:]
    if middle or not readme_only:
        with open(os.path.join(d, "share/doc/README"), "w") as f:
            f.write(text)
    # binary-like: code-like runs (half zeros, the rest 32 symbols:
    # zstd packs them about 2-3x, like machine code) between zero and
    # repeated-table runs, like code and data sections
    parts = []
    for _ in range(rng.randint(4, 24)):
        parts.append(rng.randbytes(rng.randint(2048, 12288)).translate(CODE))
        parts.append(bytes(rng.randint(0, 4096)))
        parts.append(rng.randbytes(16) * rng.randint(16, 256))
    if readme_only:
        continue
    with open(os.path.join(d, "lib/lib%05d.so" % p), "wb") as f:
        f.write(b"\x7fELF" + b"".join(parts))
    if blob:
        # its own seed, so the other files are the same with or without
        with open(os.path.join(d, "share/data.bin"), "wb") as f:
            f.write(blob_bytes(1_000_000 + p, blob))
