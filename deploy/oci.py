#!/usr/bin/env python3
"""Packs the filter's .wasm as an OCI image that Istio and Envoy Gateway pull: the "compat"
variant of the Wasm image spec, i.e. a standard OCI image manifest with one
application/vnd.oci.image.layer.v1.tar+gzip layer holding /plugin.wasm.

Writes an OCI image layout directory and the same layout as one tar (an "oci-archive"), both
byte-for-byte reproducible: fixed timestamps, owners, modes, entry order and gzip header.
Push with any OCI tool, e.g.
  skopeo copy oci-archive:target/oci/bedrock-access-filter.tar docker://REGISTRY/bedrock-access-filter:TAG
  oras cp --from-oci-layout target/oci/bedrock-access-filter:TAG REGISTRY/bedrock-access-filter:TAG

Python stdlib only: no image tool installs from the registries these machines reach, and the
format is small enough to write by hand.
"""

import argparse
import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_NAME = "plugin.wasm"  # the file name Istio's and Envoy Gateway's fetchers look for


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(entries) -> bytes:
    """A tar of (name, bytes) entries with nothing that varies between builds."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def build(wasm: bytes, tag: str):
    """Returns the image's blobs (digest -> bytes), its index.json and the manifest digest."""
    layer_tar = tar_bytes([(WASM_NAME, wasm)])
    layer = gzip_bytes(layer_tar)
    config = canonical_json({
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
    })
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
        "layers": [{
            "mediaType": LAYER_TYPE, "digest": sha256(layer), "size": len(layer),
            "annotations": {"org.opencontainers.image.title": WASM_NAME},
        }],
        "annotations": {"module.wasm.image/variant": "compat-smart"},
    })
    index = canonical_json({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [{
            "mediaType": MANIFEST_TYPE, "digest": sha256(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    })
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, index, sha256(manifest)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wasm", required=True, help="the built filter")
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--out", default="target/oci", help="directory for the layout and the tar")
    ap.add_argument("--name", default="bedrock-access-filter")
    args = ap.parse_args()

    blobs, index, digest = build(Path(args.wasm).read_bytes(), args.tag)
    files = [("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})), ("index.json", index)]
    files += [(f"blobs/sha256/{d.split(':', 1)[1]}", b) for d, b in sorted(blobs.items())]

    out = Path(args.out)
    layout = out / args.name
    if layout.exists():
        shutil.rmtree(layout)
    for name, data in files:
        (layout / name).parent.mkdir(parents=True, exist_ok=True)
        (layout / name).write_bytes(data)
    archive = out / f"{args.name}.tar"
    archive.write_bytes(tar_bytes(files))
    print(f"{layout} and {archive}: {args.name}:{args.tag} manifest {digest}")


if __name__ == "__main__":
    main()
