"""deploy/oci.py (`make oci`): the filter as an OCI image in the Wasm image spec's compat
variant, which Istio's and Envoy Gateway's fetchers unpack: a standard OCI manifest whose last
layer is a tar+gzip holding plugin.wasm. Checked blob by blob, and rebuilt to prove it is
reproducible."""

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile

import pytest

from deploy_support import ROOT, WASM

SCRIPT = ROOT / "deploy" / "oci.py"


def build(out, tag="0.1.0"):
    subprocess.run([sys.executable, str(SCRIPT), "--wasm", str(WASM), "--tag", tag, "--out", str(out)],
                   check=True, capture_output=True)
    return out / "bedrock-access-filter", out / "bedrock-access-filter.tar"


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build(tmp_path_factory.mktemp("oci"))


def blob(layout, descriptor):
    data = (layout / "blobs" / "sha256" / descriptor["digest"].removeprefix("sha256:")).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]
    assert len(data) == descriptor["size"]
    return data


def test_layout_is_a_valid_oci_image_holding_the_filter(image):
    layout, _ = image
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2
    (entry,) = index["manifests"]
    assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "0.1.0"
    manifest = json.loads(blob(layout, entry))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(blob(layout, manifest["config"]))
    # What Istio / Envoy Gateway read: the last layer, OCI tar+gzip, with a file plugin.wasm.
    layer_descriptor = manifest["layers"][-1]
    assert layer_descriptor["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    layer = blob(layout, layer_descriptor)
    layer_tar = gzip.decompress(layer)
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]}
    assert (config["architecture"], config["os"]) == ("wasm", "wasip1")
    with tarfile.open(fileobj=io.BytesIO(layer_tar)) as tar:
        (member,) = tar.getmembers()
        assert member.name == "plugin.wasm" and member.isfile()
        assert tar.extractfile(member).read() == WASM.read_bytes()
    # Nothing else is stored than what the manifest references.
    stored = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    referenced = {d["digest"].removeprefix("sha256:") for d in [entry, manifest["config"], *manifest["layers"]]}
    assert stored == referenced


def test_archive_is_the_same_layout(image):
    layout, archive = image
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert {"oci-layout", "index.json"} <= set(names)
        for name in names:
            assert tar.extractfile(name).read() == (layout / name).read_bytes()


def test_build_is_reproducible(image, tmp_path):
    layout, archive = image
    again_layout, again_archive = build(tmp_path)
    assert again_archive.read_bytes() == archive.read_bytes()
    assert (again_layout / "index.json").read_bytes() == (layout / "index.json").read_bytes()
    # The tag names the image in the index; the image (manifest digest) stays the same.
    other_layout, _ = build(tmp_path / "other", tag="other")
    digest = lambda d: json.loads((d / "index.json").read_text())["manifests"][0]["digest"]  # noqa: E731
    assert digest(other_layout) == digest(layout)
