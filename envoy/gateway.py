#!/usr/bin/env python3
"""Runs the gateway: renders envoy/envoy.yaml and starts Envoy with the built filter.

`make run` and the end-to-end tests both start the gateway through this script, so what the
tests check is what users run. Environment (all optional):

  PORT                               listener port on LISTEN_ADDRESS (default 8000)
  LISTEN_ADDRESS                     default 127.0.0.1 (without credentials: loopback only)
  API_KEY                            client keys, comma-separated
  AWS_REGION                         default us-east-1
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN / AWS_PROFILE
  AWS_BEARER_TOKEN_BEDROCK           a Bedrock API key instead of SigV4
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME   Bedrock Runtime URL (http:// for an emulator)
  AWS_ENDPOINT_URL_BEDROCK           Bedrock control-plane URL, for the live model list
  PLUGIN_CONFIG_FILE                 JSON plugin configuration (default: none, env only)
  IDLE_TIMEOUT                       silence after which Envoy ends a request or stream (300s)
  IMAGE_FETCH                        `on`: fetch http(s) image URLs (clusters in envoy.yaml)
  IMAGE_FETCH_ALLOWED_HOSTS          hosts image URLs may name, comma-separated
  RETRY_ATTEMPTS                     retries of a throttled or failed Bedrock call, 0-5 (default 2)
  RATELIMIT_SERVICE                  host:port of a gRPC rate limit service shared by all replicas

With no credentials and no endpoint, the bundled Bedrock emulator is started instead, and the
gateway then listens on loopback only (it refuses a non-loopback LISTEN_ADDRESS and says why).
"""

import argparse
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "envoy" / "envoy.yaml"
RENDER = ROOT / "envoy" / "render.sh"
WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "bedrock_access_filter.wasm"
EMULATOR = ROOT / "tests" / "emulator" / "bedrock_emulator.py"
ENVOY = ROOT / ".venv" / "bin" / "envoy"
# Fixed demo credentials shared by the filter and the bundled emulator only.
DEMO_ACCESS_KEY = "AKIDEMULATORDEMO"
DEMO_SECRET_KEY = "emulator-demo-secret-not-a-real-key"
DEMO_API_KEY = "demo-key"
CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]


def log(msg):
    print(f"[gateway] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_file(path, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with code {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {path}")


def resolve_aws_credentials(env):
    """The credentials the AWS CLI would use: environment first, then AWS_PROFILE / shared files."""
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return
    if env.get("AWS_BEARER_TOKEN_BEDROCK") or env.get("UPSTREAM_AUTH") == "envoy":
        return
    try:
        import botocore.session
    except ImportError:
        return
    session = botocore.session.Session(profile=env.get("AWS_PROFILE") or None)
    try:
        creds = session.get_credentials()
    except Exception as exc:  # a broken profile should say why, not crash the launcher
        log(f"could not read AWS credentials from profile: {exc}")
        return
    if creds is None:
        return
    frozen = creds.get_frozen_credentials()
    env["AWS_ACCESS_KEY_ID"] = frozen.access_key
    env["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
    if frozen.token:
        env["AWS_SESSION_TOKEN"] = frozen.token
    if not env.get("AWS_REGION") and session.get_config_variable("region"):
        env["AWS_REGION"] = session.get_config_variable("region")
    log(f"using AWS credentials from {creds.method}")


def is_loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def start_emulator(env, workdir):
    port_file = workdir / "emulator.port"
    emu_env = dict(env)
    emu_env.update(EMULATOR_ACCESS_KEY_ID=DEMO_ACCESS_KEY, EMULATOR_SECRET_ACCESS_KEY=DEMO_SECRET_KEY,
                   EMULATOR_REGION=env.get("AWS_REGION", "us-east-1"))
    proc = subprocess.Popen([sys.executable, str(EMULATOR), "--port", "0", "--port-file", str(port_file)],
                            env=emu_env, start_new_session=True)
    port = wait_for_file(port_file, proc)
    env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = f"http://127.0.0.1:{port}"
    env["AWS_ENDPOINT_URL_BEDROCK"] = f"http://127.0.0.1:{port}"
    env["AWS_ACCESS_KEY_ID"] = DEMO_ACCESS_KEY
    env["AWS_SECRET_ACCESS_KEY"] = DEMO_SECRET_KEY
    env.pop("AWS_SESSION_TOKEN", None)
    if not env.get("API_KEY"):
        env["API_KEY"] = DEMO_API_KEY
    banner = "!" * 78
    log(banner)
    log("NO AWS CREDENTIALS FOUND: serving CANNED ANSWERS from the bundled Bedrock emulator")
    log(f"emulator at http://127.0.0.1:{port}; client API key: {env['API_KEY'] if env['API_KEY'] == DEMO_API_KEY else '(your API_KEY)'}")
    log("Set AWS credentials (or AWS_PROFILE) to talk to Amazon Bedrock.")
    log(banner)
    return proc


def without_secrets(url):
    """An endpoint URL fit for an error message: no user:password, query or fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme or host else "(not a URL)"


def retry_attempts(env):
    # At most 5: each retry replays the request signed once, which Bedrock accepts for 5 minutes
    # (5 waits of at most 30s leave room for the attempts themselves).
    value = env.get("RETRY_ATTEMPTS", "").strip() or "2"
    if not value.isdigit() or int(value) > 5:
        raise SystemExit(f"RETRY_ATTEMPTS must be a whole number from 0 to 5, got {value!r}")
    return str(int(value))


def ratelimit_service(env):
    value = env.get("RATELIMIT_SERVICE", "").strip()
    host, _, port = value.rpartition(":")
    if value and not (host and ":" not in host and port.isdigit() and 0 < int(port) < 65536):
        raise SystemExit(f"RATELIMIT_SERVICE must be host:port, got {value!r}")
    return value


def cors_origin_matchers(allowed):
    """ALLOWED_ORIGINS (BAG's name): `*` or comma-separated origins, as the YAML list of Envoy
    string matchers envoy.yaml's CORS policy takes (deploy/start.sh does the same in sh)."""
    origins = [o.strip() for o in allowed.split(",") if o.strip()]
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?", origin):
            raise SystemExit(f"ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port]) or *")
    return "[" + ", ".join(f'{{exact: "{o}"}}' for o in origins) + "]"


def render_vars(env, workdir):
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") or f"https://bedrock-runtime.{region}.amazonaws.com"
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise SystemExit(f"AWS_ENDPOINT_URL_BEDROCK_RUNTIME must be an http(s) URL, got {without_secrets(endpoint)!r}")
    tls = url.scheme == "https"
    # The control plane (model list); an emulator serves both on one port.
    cp_endpoint = env.get("AWS_ENDPOINT_URL_BEDROCK") or f"https://bedrock.{region}.amazonaws.com"
    cp_url = urlsplit(cp_endpoint)
    if cp_url.scheme not in ("http", "https") or not cp_url.hostname:
        raise SystemExit(f"AWS_ENDPOINT_URL_BEDROCK must be an http(s) URL, got {without_secrets(cp_endpoint)!r}")
    cp_tls = cp_url.scheme == "https"
    envoy_signed = "_envoy_signed" if env.get("UPSTREAM_AUTH") == "envoy" else ""
    plugin_config = "{}"
    if env.get("PLUGIN_CONFIG_FILE"):
        plugin_config = json.dumps(json.loads(Path(env["PLUGIN_CONFIG_FILE"]).read_text()))
    ca = next((c for c in CA_BUNDLES if Path(c).exists()), CA_BUNDLES[0])
    return {
        "LISTEN_ADDRESS": env.get("LISTEN_ADDRESS") or "127.0.0.1",
        "LISTEN_PORT": str(env.get("PORT") or 8000),
        "ADMIN_PORT": str(env.get("ADMIN_PORT") or 0),
        "WASM_PATH": str(env.get("WASM_PATH") or WASM),
        "BEDROCK_CLUSTER": ("bedrock_tls" if tls else "bedrock_plain")
        + ("_envoy_signed" if env.get("UPSTREAM_AUTH") == "envoy" else ""),
        "SIGNING_REGION": region,
        "BEDROCK_ADDRESS": url.hostname,
        "BEDROCK_PORT": str(url.port or (443 if tls else 80)),
        "CONTROL_PLANE_CLUSTER": "bedrock_control_plane" + ("" if cp_tls else "_plain") + envoy_signed,
        "CONTROL_PLANE_ADDRESS": cp_url.hostname,
        "CONTROL_PLANE_PORT": str(cp_url.port or (443 if cp_tls else 80)),
        "CA_BUNDLE": env.get("CA_BUNDLE") or ca,
        # How long a request or stream may stay silent before Envoy ends it (template default 300s).
        "IDLE_TIMEOUT": env.get("IDLE_TIMEOUT", ""),
        "RETRY_ATTEMPTS": retry_attempts(env),
        "RATELIMIT_SERVICE": ratelimit_service(env),
        # YAML single-quoted scalar: a quote is written twice.
        "PLUGIN_CONFIG": plugin_config.replace("'", "''"),
        "CORS_ORIGIN_MATCHERS": cors_origin_matchers(env.get("ALLOWED_ORIGINS", "")),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ready-file", help="write {port, admin_port, emulator} JSON here once serving")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("ENVOY_CONCURRENCY", "2")))
    parser.add_argument("--log-level", default=os.environ.get("ENVOY_LOG_LEVEL", "warning"))
    args = parser.parse_args()

    env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="bedrock-gateway-"))
    emulator = None
    resolve_aws_credentials(env)
    has_auth = (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")) or env.get(
        "AWS_BEARER_TOKEN_BEDROCK") or env.get("UPSTREAM_AUTH") == "envoy"
    if not has_auth and not env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        listen = env.get("LISTEN_ADDRESS") or "127.0.0.1"
        if not is_loopback(listen):
            # Canned answers with a published demo key must not be reachable from the network.
            raise SystemExit(
                f"No AWS credentials found, so the gateway would serve the bundled Bedrock emulator's canned "
                f"answers (demo key), which it does on loopback only, not on LISTEN_ADDRESS={listen}. Set AWS "
                "credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or AWS_BEARER_TOKEN_BEDROCK) "
                "to serve Amazon Bedrock, or unset LISTEN_ADDRESS (127.0.0.1) to try the emulator.")
        emulator = start_emulator(env, workdir)
    if not env.get("API_KEY") and not env.get("PLUGIN_CONFIG_FILE"):
        raise SystemExit("Set API_KEY: the key(s) clients must send as 'Authorization: Bearer ...'.")
    if not WASM.exists() and not env.get("WASM_PATH"):
        raise SystemExit(f"{WASM} is missing: run `make build` first.")

    env.update(render_vars(env, workdir))
    config = workdir / "envoy.yaml"
    rendered = subprocess.run(["sh", str(RENDER), str(TEMPLATE)], env=env, capture_output=True, text=True)
    if rendered.returncode != 0:
        raise SystemExit(rendered.stderr.strip())
    config.write_text(rendered.stdout)
    admin_file = workdir / "admin.address"
    envoy_bin = env.get("ENVOY_BIN") or str(ENVOY)
    cmd = [envoy_bin, "-c", str(config), "--use-dynamic-base-id", "--concurrency", str(args.concurrency),
           "--admin-address-path", str(admin_file), "-l", args.log_level,
           "--component-log-level", f"wasm:{'info' if args.log_level in ('warning', 'error') else args.log_level}"]
    envoy = subprocess.Popen(cmd, env=env, start_new_session=True)

    def stop(*_):
        for proc in (envoy, emulator):
            if proc and proc.poll() is None:
                proc.terminate()
        for proc in (envoy, emulator):
            if proc:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    signal.signal(signal.SIGINT, lambda *_: (stop(), sys.exit(0)))
    try:
        admin = wait_for_file(admin_file, envoy)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{admin}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if envoy.poll() is not None or time.time() > deadline:
                raise RuntimeError("Envoy did not become ready (see its log above)")
            time.sleep(0.1)
        port = env["LISTEN_PORT"]
        log(f"OpenAI-compatible API at http://{env['LISTEN_ADDRESS']}:{port}/v1 (admin http://{admin})")
        if args.ready_file:
            Path(args.ready_file).write_text(json.dumps({
                "port": int(port), "admin": admin,
                "emulator": env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] if emulator else None,
            }))
        code = envoy.wait()
    except RuntimeError as exc:
        log(str(exc))
        code = 1
    finally:
        stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
