"""Continue's CLI (npm @continuedev/cli 1.5.47, `cn`, tests/agents) headless (`cn -p`) through
the gateway's OpenAI front door (Chat Completions), configured as Continue's docs say: a
config.yaml model with `provider: openai`, `apiBase` = the gateway's /v1 and the key as a
`${{ secrets.NAME }}` read from the environment. Its home (~/.continue) is a throwaway
directory; writes are allowed with `--allow Write` (headless `cn` does not offer Write
otherwise); the emulator's scripted conversation drives it.
"""

import json
import subprocess

import pytest

from agents import CONTINUE, agent_env, script, served, temp_dirs
from conftest import CLIENT_KEY

pytestmark = pytest.mark.skipif(not CONTINUE.exists(), reason="run `make agents-deps` to install the agent CLIs")

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
CONFIG = """\
name: Bedrock through the gateway
version: 1.0.0
schema: v1
models:
  - name: Claude Sonnet 4.5
    provider: openai
    model: {model}
    apiBase: {base_url}
    apiKey: ${{{{ secrets.BEDROCK_GATEWAY_API_KEY }}}}
    roles:
      - chat
      - edit
      - apply
    capabilities:
      - tool_use
"""


def run_cn(gateway, prompt, work=None, allow=(), timeout=180):
    home, fresh = temp_dirs("continue")
    work = work or fresh
    config = home / "config.yaml"
    config.write_text(CONFIG.format(model=MODEL, base_url=gateway.base_url))
    env = agent_env(home, BEDROCK_GATEWAY_API_KEY=CLIENT_KEY, CONTINUE_GLOBAL_DIR=str(home / ".continue"),
                    CONTINUE_CLI_ENABLE_TELEMETRY="0")
    args = [str(CONTINUE), "-p", "--config", str(config)]
    for tool in allow:
        args += ["--allow", tool]
    return subprocess.run(args + [prompt], cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def converse_calls(emulator):
    return [r for r in emulator.runtime_requests() if r["path"] == MODEL_PATH]


def explain(proc):
    return f"exit {proc.returncode}\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"


def test_continue_plain_answer(gateway, emulator):
    script(emulator, [{"text": "Hello from the scripted model."}])
    proc = run_cn(gateway, "say hi")
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.strip() == "Hello from the scripted model."
    [call] = converse_calls(emulator)
    body = call["body"]
    assert body["messages"] == [{"role": "user", "content": [{"text": "say hi"}]}]
    assert body["system"]
    names = {t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]}
    assert {"Read", "List", "Bash"} <= names and "Write" not in names, names
    assert call["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert served(emulator) == [1]


def test_continue_writes_a_file_with_its_write_tool(gateway, emulator):
    home, work = temp_dirs("continue-write")
    target = work / "hello.txt"
    script(emulator, [{"text": "Creating the file.", "tool_calls": [
                          {"name": "Write", "input": {"filepath": str(target), "content": "hello from continue\n"}}]},
                      {"text": "Created hello.txt."}])
    proc = run_cn(gateway, "create hello.txt", work=work, allow=("Write",))
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.strip().endswith("Created hello.txt.")
    assert target.read_text() == "hello from continue\n"
    first, second = converse_calls(emulator)
    assert "Write" in {t["toolSpec"]["name"] for t in first["body"]["toolConfig"]["tools"]}
    assistant, results = second["body"]["messages"][-2:]
    [call] = [b["toolUse"] for b in assistant["content"] if "toolUse" in b]
    assert call["name"] == "Write" and call["input"] == {"filepath": str(target), "content": "hello from continue\n"}
    [result] = [b["toolResult"] for b in results["content"] if "toolResult" in b]
    assert result["toolUseId"] == call["toolUseId"] and "Successfully created file" in json.dumps(result)
    assert served(emulator) == [1, 1]
