"""RETRY_ATTEMPTS and RATELIMIT_SERVICE in the container path (deploy/start.sh, as docker compose
and Kubernetes run it): good values give the config real Envoy loads, bad ones stop the start
with the variable's name instead of silently turning the policy off."""

import subprocess

import pytest
import yaml

from deploy_support import ROOT, WASM, base_env, gateway_dir, load_docs, run_start
from test_kubernetes import SECRET, envoy_container, merged_env, rendered_in_pod


def pod_env(**extra):
    (deployment,) = load_docs(ROOT / "deploy" / "kubernetes" / "gateway" / "deployment.yaml")
    return {**merged_env(envoy_container(deployment)), **SECRET, **extra}


def bedrock_route(rendered):
    hcm = yaml.safe_load(rendered)["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    return next(r for r in routes if r["name"] == "bedrock-runtime")


@pytest.mark.parametrize("value, retries", [(None, 2), ("0", None), ("5", 5)])
def test_retry_attempts_reach_the_route(tmp_path, value, retries):
    env = pod_env(**({"RETRY_ATTEMPTS": value} if value is not None else {}))
    policy = bedrock_route(rendered_in_pod(tmp_path, env))["route"].get("retry_policy")
    assert (policy and policy["num_retries"]) == retries


@pytest.mark.parametrize("name, value", [("RETRY_ATTEMPTS", "6"), ("RETRY_ATTEMPTS", "two"),
                                         ("RATELIMIT_SERVICE", "ratelimit"), ("RATELIMIT_SERVICE", ":8081")])
def test_bad_values_stop_the_container(tmp_path, name, value):
    directory = gateway_dir(tmp_path)
    (directory / "plugin.wasm").symlink_to(WASM)
    env = {**base_env(), **pod_env(WASM_PATH=str(directory / "plugin.wasm")), name: value}
    proc = run_start(directory, env, "--mode", "validate", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1 and f"{name} must be" in out, out[-2000:]
