"""End-to-end fixtures: the Bedrock emulator and a real Envoy running the built filter, both
started the way users start them (envoy/gateway.py is what `make run` runs)."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import botocore
import botocore.config
import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "tests" / "emulator" / "bedrock_emulator.py"
GATEWAY = ROOT / "envoy" / "gateway.py"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CLIENT_KEY = "test-client-key"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
# Variables of the developer's shell that would change what the gateway does.
LEAKY_ENV = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_BEDROCK",
             "API_KEY", "PORT",
             "PLUGIN_CONFIG_FILE", "UPSTREAM_AUTH", "AWS_REGION", "AWS_DEFAULT_REGION",
             "IMAGE_FETCH", "IMAGE_FETCH_CLUSTER", "IMAGE_FETCH_HTTP_CLUSTER", "IMAGE_FETCH_ALLOWED_HOSTS",
             "RETRY_ATTEMPTS", "RATELIMIT_SERVICE"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env["AWS_CONFIG_FILE"] = "/nonexistent"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def wait_for(path: Path, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[1]} exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {path}")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Emulator:
    def __init__(self, **env):
        tmp = Path(tempfile.mkdtemp(prefix="emu-"))
        port_file = tmp / "port"
        self.log = open(tmp / "emulator.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(EMULATOR), "--port", "0", "--port-file", str(port_file)],
            env=clean_env(EMULATOR_ACCESS_KEY_ID=ACCESS_KEY, EMULATOR_SECRET_ACCESS_KEY=SECRET_KEY, **env),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{wait_for(port_file, self.proc)}"

    def requests(self):
        with urllib.request.urlopen(f"{self.url}/_emulator/requests") as r:
            return json.load(r)

    def runtime_requests(self):
        return [r for r in self.requests() if r["path"].startswith("/model/")]

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_emulator/reset", method="POST")).read()

    def close(self):
        stop(self.proc)
        self.log.close()


class Gateway:
    """envoy/gateway.py in the background, as `make run` starts it."""

    def __init__(self, env, concurrency=1):
        tmp = Path(tempfile.mkdtemp(prefix="gw-"))
        ready = tmp / "ready.json"
        self.log_path = tmp / "gateway.log"
        self.log = open(self.log_path, "w")
        env.setdefault("PORT", str(free_port()))
        self.proc = subprocess.Popen(
            [sys.executable, str(GATEWAY), "--ready-file", str(ready), "--concurrency", str(concurrency)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            info = json.loads(wait_for(ready, self.proc, timeout=90))
        except RuntimeError as exc:
            stop(self.proc)
            self.log.close()
            raise RuntimeError(f"{exc}\n{self.log_path.read_text()}") from None
        self.port = info["port"]
        self.admin = info["admin"]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def client(self, api_key=CLIENT_KEY, **kw):
        return openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=60, **kw)

    def output(self):
        self.log.flush()
        return self.log_path.read_text()

    def stats(self):
        with urllib.request.urlopen(f"http://{self.admin}/stats") as r:
            return r.read().decode()

    def close(self):
        stop(self.proc)
        self.log.close()


def gateway_env(emulator, **extra):
    settings = dict(API_KEY=CLIENT_KEY, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                    AWS_REGION="us-east-1", AWS_ENDPOINT_URL_BEDROCK_RUNTIME=emulator.url,
                    AWS_ENDPOINT_URL_BEDROCK=emulator.url)
    settings.update(extra)
    return clean_env(**settings)


@pytest.fixture(scope="session")
def emulator():
    emu = Emulator()
    yield emu
    emu.close()


@pytest.fixture(scope="session")
def gateway(emulator):
    gw = Gateway(gateway_env(emulator))
    yield gw
    gw.close()


@pytest.fixture
def client(gateway):
    return gateway.client()


@pytest.fixture(autouse=True)
def _fresh_emulator_log(request):
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").reset()
    yield


@pytest.fixture(scope="module")
def no_item_store_gateway(emulator, tmp_path_factory):
    """A gateway whose Responses item store is off (every item_reference is a 400)."""
    config = tmp_path_factory.mktemp("no_store") / "plugin.json"
    config.write_text(json.dumps({"responses_item_store": {"enabled": False}}))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def bedrock_native_client(gateway, key, monkeypatch, service="bedrock-runtime"):
    """boto3's `service` client sending `key` as a Bedrock API key. botocore sends
    AWS_BEARER_TOKEN_BEDROCK only over https, and this test gateway listens on plain http, so
    the same `Authorization: Bearer` header is added on an unsigned client instead."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client(service, region_name="us-east-1",
                          endpoint_url=f"http://127.0.0.1:{gateway.port}",
                          config=botocore.config.Config(retries={"max_attempts": 1},
                                                        signature_version=botocore.UNSIGNED))

    def bearer(request, **_):
        request.headers["Authorization"] = f"Bearer {key}"

    client.meta.events.register(f"before-send.{service}.*", bearer)
    return client
