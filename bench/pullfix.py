#!/usr/bin/env python3
"""Writes the pull benchmark's images as OCI image layouts, for skopeo to push to a local registry.

Usage: pullfix.py eight DIR        8 gzip layers, about 300 MB compressed in all (each about 37 MB)
       pullfix.py big DIR gzip|zstd one layer of 1 GiB uncompressed

The content is half random bytes and half text, so that compression and decompression do real work (neither
all-random data, which gzip stores, nor all-zero data, which it skips through). Deterministic: the same
arguments give the same digests.
"""

import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile

MiB = 1 << 20


def blob(layout, data=None, path=None):
    """Stores bytes (or moves the file PATH) as a blob of the layout; returns (digest, size)."""
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    if data is not None:
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(d, h), "wb") as f:
            f.write(data)
        return "sha256:" + h, len(data)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    os.rename(path, os.path.join(d, h.hexdigest()))
    return "sha256:" + h.hexdigest(), os.path.getsize(os.path.join(d, h.hexdigest()))


class Hashing:
    """A write-only file that hashes what goes through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()


def chunk(rng, size):
    """SIZE bytes: half random, half text."""
    half = size // 2
    words = b"minotaur labyrinth namespace bridge veth overlay layer digest manifest index "
    text = (words * (half // len(words) + 1))[:half]
    return rng.randbytes(half) + text


def layer(layout, tmp, seed, files, file_size, compression):
    """A tar of FILES files of FILE_SIZE bytes, compressed; returns (descriptor, diff_id)."""
    rng = random.Random(seed)
    raw = os.path.join(tmp, f"layer-{seed}.tar")
    with open(raw, "wb") as out:
        hashing = Hashing(out)
        with tarfile.open(fileobj=hashing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(f"data{seed}")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
            for i in range(files):
                info = tarfile.TarInfo(f"data{seed}/file{i}")
                info.size, info.mode, info.mtime = file_size, 0o644, 0
                tar.addfile(info, io.BytesIO(chunk(rng, file_size)))
    diff_id = "sha256:" + hashing.h.hexdigest()
    packed = raw + "." + compression
    if compression == "gzip":
        with open(raw, "rb") as src, open(packed, "wb") as dst:
            with gzip.GzipFile(fileobj=dst, mode="wb", compresslevel=6, mtime=0) as z:
                while b := src.read(4 * MiB):
                    z.write(b)
        media = "application/vnd.oci.image.layer.v1.tar+gzip"
    else:
        subprocess.run(["zstd", "-q", "-3", "-T0", "-f", raw, "-o", packed], check=True)
        media = "application/vnd.oci.image.layer.v1.tar+zstd"
    os.remove(raw)
    digest, size = blob(layout, path=packed)
    return {"mediaType": media, "digest": digest, "size": size}, diff_id


def image(layout, layers):
    diff_ids = [d for _, d in layers]
    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
    }
    cdigest, csize = blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": [desc for desc, _ in layers],
    }
    mdigest, msize = blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdigest,
            "size": msize,
            "annotations": {"org.opencontainers.image.ref.name": "1"},
        }],
    }
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def main():
    kind, layout = sys.argv[1], sys.argv[2]
    os.makedirs(layout, exist_ok=True)
    tmp = layout + ".work"
    os.makedirs(tmp, exist_ok=True)
    if kind == "eight":
        # 8 layers x 18 files x 4 MiB = 72 MiB each, about 37 MB gzipped.
        layers = [layer(layout, tmp, seed, 18, 4 * MiB, "gzip") for seed in range(8)]
    else:
        # 1 GiB: 256 files x 4 MiB.
        layers = [layer(layout, tmp, 100, 256, 4 * MiB, sys.argv[3])]
    os.rmdir(tmp)
    image(layout, layers)


if __name__ == "__main__":
    main()
