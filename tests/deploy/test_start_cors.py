"""ALLOWED_ORIGINS through the container's start.sh (docker compose, Kubernetes, ECS): the list
becomes Envoy CORS matchers that the real Envoy loads, and a value that is not an origin stops
the container before Envoy starts. (make run's launcher is tested end to end in
tests/e2e/test_bag_compat.py.)"""

import subprocess

import yaml

from deploy_support import base_env, run_start, validate_with_envoy
from test_compose import ENV_EXAMPLE, FILLED_IN, host_gateway_dir, on_host, read_env_file, service_env


def compose_env(tmp_path, **variables):
    directory, mounts = host_gateway_dir(tmp_path)
    env = on_host(service_env("gateway", {**read_env_file(ENV_EXAMPLE), **FILLED_IN, **variables}),
                  mounts, directory)
    return directory, {**base_env(), **env}


def http_connection_manager(rendered):
    listener = yaml.safe_load(rendered)["static_resources"]["listeners"][0]
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def test_allowed_origins_render_a_cors_policy_envoy_loads(tmp_path):
    directory, env = compose_env(tmp_path, ALLOWED_ORIGINS=" https://app.example.com,http://localhost:3000 ")
    hcm = http_connection_manager(validate_with_envoy(directory, env))
    names = [f["name"] for f in hcm["http_filters"]]
    assert names.index("envoy.filters.http.cors") < names.index("envoy.filters.http.wasm")
    (host,) = hcm["route_config"]["virtual_hosts"]
    policy = host["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert policy["allow_origin_string_match"] == [{"exact": "https://app.example.com"},
                                                   {"exact": "http://localhost:3000"}]


def test_without_allowed_origins_there_is_no_cors_filter(tmp_path):
    directory, env = compose_env(tmp_path)
    hcm = http_connection_manager(validate_with_envoy(directory, env))
    assert "envoy.filters.http.cors" not in [f["name"] for f in hcm["http_filters"]]
    assert "typed_per_filter_config" not in hcm["route_config"]["virtual_hosts"][0]


def test_a_value_that_is_not_an_origin_stops_the_container(tmp_path):
    directory, env = compose_env(tmp_path, ALLOWED_ORIGINS='https://app.example.com, https://x"}, {prefix: "')
    proc = run_start(directory, env, "--mode", "validate", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "ALLOWED_ORIGINS" in out, out[-2000:]
    assert not (directory / "rendered.yaml").exists()
