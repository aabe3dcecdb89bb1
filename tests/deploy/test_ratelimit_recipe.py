"""deploy/kubernetes/ratelimit: envoyproxy/ratelimit beside the gateway. Its manifests are
schema-valid, its limits cover exactly the descriptors envoy/envoy.yaml sends (read from the
config real Envoy loads with the overlay's RATELIMIT_SERVICE), and the limit file uses only
what envoyproxy/ratelimit's loader accepts."""

import yaml

import kubernetes_validate
import pytest

from deploy_support import ROOT, load_docs
from test_kubernetes import K8S_VERSION, SECRET, envoy_container, merged_env, rendered_in_pod

RECIPE = ROOT / "deploy" / "kubernetes" / "ratelimit"
# envoyproxy/ratelimit's config loader (src/config/config_impl.go): keys it accepts and units.
LOADER_KEYS = {"domain", "key", "value", "descriptors", "rate_limit", "unit", "requests_per_unit", "unlimited",
               "shadow_mode", "quota_mode", "name", "replaces", "detailed_metric", "value_to_metric",
               "share_threshold", "metadata"}
UNITS = {"second", "minute", "hour", "day", "week", "month", "year"}


def limits():
    (config,) = load_docs(RECIPE / "config.yaml")
    return config


def rendered_gateway(tmp_path):
    (deployment,) = load_docs(ROOT / "deploy" / "kubernetes" / "gateway" / "deployment.yaml")
    (patch,) = load_docs(RECIPE / "gateway-ratelimit.yaml")
    env = merged_env(envoy_container(deployment), envoy_container(patch))
    return env, yaml.safe_load(rendered_in_pod(tmp_path, {**env, **SECRET}))


def hcm(config):
    return config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


def sent_descriptor_keys(config):
    route = next(r for vh in hcm(config)["route_config"]["virtual_hosts"] for r in vh["routes"]
                 if r["name"] == "bedrock-runtime")
    policies = route["typed_per_filter_config"]["envoy.filters.http.ratelimit"]["rate_limits"]
    return {action["extension"]["name"] for policy in policies for action in policy["actions"]}


@pytest.mark.parametrize("path", ["ratelimit.yaml", "gateway-ratelimit.yaml"])
def test_manifests_match_the_kubernetes_schema(path):
    for doc in load_docs(RECIPE / path):
        if doc["kind"] == "Deployment" and path.startswith("gateway"):
            continue  # a strategic-merge patch, not a whole object
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_limit_file_is_what_the_loader_accepts():
    def walk(node):
        assert set(node) <= LOADER_KEYS, set(node) - LOADER_KEYS
        if "rate_limit" in node:
            assert node["rate_limit"]["unit"] in UNITS and node["rate_limit"]["requests_per_unit"] > 0
        seen = set()
        for child in node.get("descriptors", []):
            assert "key" in child
            composite = (child["key"], child.get("value"))
            assert composite not in seen, f"duplicate descriptor {composite}"
            seen.add(composite)
            walk(child)
    walk(limits())


def test_gateway_loads_with_the_service_and_its_limits_match_what_envoy_sends(tmp_path):
    env, config = rendered_gateway(tmp_path)
    host, port = env["RATELIMIT_SERVICE"].split(":")
    services = {d["metadata"]["name"]: d for d in load_docs(RECIPE / "ratelimit.yaml") if d["kind"] == "Service"}
    assert int(port) in [p["port"] for p in services[host]["spec"]["ports"]]
    (ratelimit_filter,) = [f for f in hcm(config)["http_filters"] if f["name"] == "envoy.filters.http.ratelimit"]
    assert ratelimit_filter["typed_config"]["domain"] == limits()["domain"]
    assert ratelimit_filter["typed_config"]["rate_limit_service"]["grpc_service"]["google_grpc"]["target_uri"] == \
        env["RATELIMIT_SERVICE"]
    # Every descriptor Envoy sends has a limit, and every limit is for a descriptor Envoy sends.
    assert {d["key"] for d in limits()["descriptors"]} == sent_descriptor_keys(config)


def test_ratelimit_reads_the_limit_file_where_it_is_mounted():
    (deployment,) = [d for d in load_docs(RECIPE / "ratelimit.yaml") if d["kind"] == "Deployment"
                     and d["metadata"]["name"] == "bedrock-ratelimit"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")["mountPath"]
    assert mount == f"{env['RUNTIME_ROOT']}/{env['RUNTIME_SUBDIRECTORY']}/{env['RUNTIME_APPDIRECTORY']}"
    (kustomization,) = load_docs(RECIPE / "kustomization.yaml")
    (generator,) = kustomization["configMapGenerator"]
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == generator["name"] and generator["files"] == ["config.yaml"]
    assert env["REDIS_URL"].split(":")[0] in {d["metadata"]["name"] for d in load_docs(RECIPE / "ratelimit.yaml")}
