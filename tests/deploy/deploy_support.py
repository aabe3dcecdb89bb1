"""Helpers for the deployment-recipe tests: reading the recipes, and running their Envoy
config through the real Envoy the way a container would (deploy/start.sh)."""

import os
import re
import socket
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "envoy" / "envoy.yaml"
PLUGIN_CONFIG = ROOT / "envoy" / "plugin-config.json"
START = ROOT / "deploy" / "start.sh"
WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "bedrock_access_filter.wasm"
ENVOY = ROOT / ".venv" / "bin" / "envoy"
# What a container finds at /etc/gateway: the files the recipes mount there.
GATEWAY_FILES = {
    "envoy.yaml": TEMPLATE,
    "render.sh": ROOT / "envoy" / "render.sh",
    "plugin-config.json": PLUGIN_CONFIG,
    "start.sh": START,
}


def load_docs(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


def template_variables():
    """Every ${NAME} in envoy/envoy.yaml outside comment lines (comments are not rendered);
    ${NAME:-default} ones need not be set."""
    names = set()
    for line in TEMPLATE.read_text().splitlines():
        if not line.lstrip().startswith("#"):
            names.update(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", line))
    return names


def template_wasm_config(rendered_text):
    """The envoy.filters.http.wasm PluginConfig of a rendered envoy.yaml."""
    config = yaml.safe_load(rendered_text)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    wasm = next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.wasm")
    return wasm["typed_config"]["config"]


def template_with_placeholders():
    """envoy/envoy.yaml with every ${NAME} replaced by a placeholder, so that it parses."""
    return re.sub(r"\$\{[A-Z_][A-Z0-9_]*(:-[^}]*)?\}", "x", TEMPLATE.read_text())


def template_clusters():
    return {c["name"] for c in yaml.safe_load(template_with_placeholders())["static_resources"]["clusters"]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_dir(tmp_path, mounts=GATEWAY_FILES):
    """A stand-in for the container's /etc/gateway: symlinks to the very files a recipe mounts."""
    d = tmp_path / "etc-gateway"
    d.mkdir()
    for name, source in mounts.items():
        (d / name).symlink_to(source)
    return d


def base_env():
    """Only what a container would have besides the recipe's variables (no developer AWS setup)."""
    return {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}


def run_start(directory, env, *envoy_args, rendered=None, **popen):
    """Runs <directory>/start.sh as the container command does, with the venv's Envoy."""
    env = dict(env, ENVOY_BIN=str(ENVOY), RENDERED_CONFIG=str(rendered or directory / "rendered.yaml"))
    return subprocess.Popen(["sh", str(directory / "start.sh"), *envoy_args, "--use-dynamic-base-id"],
                            env=env, **popen)


def validate_with_envoy(directory, env):
    """start.sh + `envoy --mode validate`: renders exactly as the container would, then has the
    real Envoy load the config (listeners, clusters, the wasm filter and its plugin config)."""
    rendered = directory / "rendered.yaml"
    proc = run_start(directory, env, "--mode", "validate", rendered=rendered,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-3000:]
    assert "configuration '" in out and "OK" in out, out[-3000:]
    return rendered.read_text()
