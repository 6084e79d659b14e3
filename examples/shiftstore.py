#!/usr/bin/env python3
"""Write the shifted bench pair's tree: PACKAGES packages of text and
binary-like files from a fixed seed (the same bytes on every machine).
With --grow, the text file of the middle package is 50 bytes longer, so
every file packed after it moves.  Usage: shiftstore.py DIR PACKAGES [--grow]"""
import os
import random
import sys

out, packages, grow = sys.argv[1], int(sys.argv[2]), "--grow" in sys.argv[3:]
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
    if grow and p == packages // 2:
        text = text[:len(text) // 2] + "grown by fifty bytes in the middle of the store.\n" + text[len(text) // 2:]
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
    with open(os.path.join(d, "lib/lib%05d.so" % p), "wb") as f:
        f.write(b"\x7fELF" + b"".join(parts))
