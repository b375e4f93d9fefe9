#!/usr/bin/env python3
"""Writes a large, valid VNF package (CSAR) for benches/upload-rss.sh.

    benches/big_csar.py OUT.zip SIZE_MIB

The package is examples/packages/sample-vnf (its VNFD, TOSCA.meta and manifest) plus
one artifact, Files/images/big.bin, of SIZE_MIB MiB stored uncompressed, listed in the
manifest with its SHA-256 so onboarding must hash all of it. The artifact repeats one
MiB of random bytes (compression plays no part: it is stored). The zip is written in
chunks (ZIP64 where needed), so this script needs little memory. Prints the SHA-256 of
the whole package on stdout.
"""

import hashlib
import os
import sys
import zipfile

CHUNK = 1 << 20


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, size_mib = sys.argv[1], int(sys.argv[2])
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                        "packages", "sample-vnf")
    block = os.urandom(CHUNK)
    artifact_hash = hashlib.sha256()
    for _ in range(size_mib):
        artifact_hash.update(block)
    manifest_name = "sample_vnf.mf"
    with open(os.path.join(root, manifest_name), encoding="utf-8") as f:
        manifest = f.read().rstrip("\n")
    manifest += (
        "\n\nSource: Files/images/big.bin\nAlgorithm: SHA-256\nHash: "
        + artifact_hash.hexdigest() + "\n"
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                arcname = os.path.relpath(path, root).replace(os.sep, "/")
                if arcname == manifest_name:
                    z.writestr(arcname, manifest)
                else:
                    z.write(path, arcname)
        info = zipfile.ZipInfo("Files/images/big.bin", date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = size_mib * CHUNK
        with z.open(info, "w", force_zip64=True) as member:
            for _ in range(size_mib):
                member.write(block)
    package_hash = hashlib.sha256()
    with open(out, "rb") as f:
        while True:
            chunk = f.read(8 * CHUNK)
            if not chunk:
                break
            package_hash.update(chunk)
    print(package_hash.hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
