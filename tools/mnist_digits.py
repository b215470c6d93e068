#!/usr/bin/env python3
"""Writes examples/weights/mnist_test_digits.bin: the first N test digits of MNIST
(data/mnist), 784 bytes each (row-major, 0-255), then their N labels (one byte each).
The embedded examples (examples/embedded_inference.rs, embedded/) compile it in, so that
they classify real digits without a file system or a gzip decoder.

    python3 tools/mnist_digits.py [N]   # N = 100 by default
"""
import gzip
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
images = gzip.open(root / "data/mnist/t10k-images-idx3-ubyte.gz").read()
labels = gzip.open(root / "data/mnist/t10k-labels-idx1-ubyte.gz").read()
assert images[:4] == b"\x00\x00\x08\x03" and labels[:4] == b"\x00\x00\x08\x01"
out = images[16 : 16 + n * 784] + labels[8 : 8 + n]
(root / "examples/weights/mnist_test_digits.bin").write_bytes(out)
print(f"wrote {n} digits ({len(out)} bytes)")
