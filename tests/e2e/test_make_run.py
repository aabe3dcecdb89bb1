"""`make run` (envoy/gateway.py) without AWS credentials: the bundled emulator, on loopback only."""

import json
import subprocess
import sys
import urllib.request

from conftest import GATEWAY, HAIKU, Gateway, clean_env


def test_without_credentials_the_emulator_is_served_on_loopback_only():
    gw = Gateway(clean_env())
    try:
        assert "CANNED ANSWERS" in gw.output()
        with urllib.request.urlopen(f"http://{gw.admin}/listeners?format=json") as r:
            listeners = json.load(r)["listener_statuses"]
        [openai] = [l for l in listeners if l["name"] == "openai"]
        assert openai["local_address"]["socket_address"]["address"] == "127.0.0.1"
        answer = gw.client(api_key="demo-key").chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "Hello!"}])
        assert answer.choices[0].message.content == "Echo: Hello!"
    finally:
        gw.close()


def test_without_credentials_a_public_listen_address_is_refused():
    for address in ("0.0.0.0", "::", "192.0.2.10"):
        run = subprocess.run([sys.executable, str(GATEWAY)], env=clean_env(LISTEN_ADDRESS=address),
                             capture_output=True, text=True, timeout=60)
        assert run.returncode != 0
        assert "No AWS credentials found" in run.stderr and f"LISTEN_ADDRESS={address}" in run.stderr
        assert "loopback only" in run.stderr and "CANNED ANSWERS" not in run.stderr  # nothing started


def test_a_bad_endpoint_url_is_named_without_its_credentials():
    for name in ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_BEDROCK"):
        env = clean_env(API_KEY="k", AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                        AWS_ENDPOINT_URL_BEDROCK_RUNTIME="http://127.0.0.1:9", AWS_ENDPOINT_URL_BEDROCK="http://127.0.0.1:9")
        env[name] = "ftp://proxyuser:pr0xy-pa55@proxy.example:8080/bedrock?sig=t0ken"
        run = subprocess.run([sys.executable, str(GATEWAY)], env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode != 0
        assert f"{name} must be an http(s) URL, got 'ftp://proxy.example:8080/bedrock'" in run.stderr
        assert "pr0xy-pa55" not in run.stderr and "t0ken" not in run.stderr and "proxyuser" not in run.stderr
