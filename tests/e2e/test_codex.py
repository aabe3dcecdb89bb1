"""The real Codex CLI (npm @openai/codex, installed in tests/codex by `make codex-deps`) running
`codex exec` against Envoy + the filter + the emulator, configured as the README says."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import CLIENT_KEY, ROOT, Gateway, gateway_env

CODEX = ROOT / "tests" / "codex" / "node_modules" / ".bin" / "codex"
# A model name Codex knows unlocks its full tool set (apply_patch, tool_search) and reasoning
# effort; the gateway maps it to a Claude model.
ALIAS = "gpt-5.5"
SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"

pytestmark = pytest.mark.skipif(not CODEX.exists(), reason="run `make codex-deps` to install the Codex CLI")


@pytest.fixture(scope="module")
def codex_gateway(emulator):
    config = Path(tempfile.mkdtemp(prefix="codex-gw-")) / "plugin.json"
    aliases = json.loads(readme_block("json"))
    assert aliases == {"model_aliases": {ALIAS: SONNET4}}
    config.write_text(json.dumps(aliases))
    gw = Gateway(gateway_env(emulator, PLUGIN_CONFIG_FILE=str(config)))
    yield gw
    gw.close()


def readme_block(language):
    """The first `language` code block of the README's Codex section."""
    section = (ROOT / "README.md").read_text().split("\n## Codex\n", 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def run_codex(gateway, prompt, timeout=45):
    home = Path(tempfile.mkdtemp(prefix="codex-home-"))
    work = Path(tempfile.mkdtemp(prefix="codex-work-"))
    # The README's config.toml, as written, pointed at the test gateway.
    config = readme_block("toml")
    assert "http://127.0.0.1:8000/v1" in config
    (home / "config.toml").write_text(config.replace("http://127.0.0.1:8000/v1", gateway.base_url))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update(CODEX_HOME=str(home), BEDROCK_GATEWAY_API_KEY=CLIENT_KEY, NO_COLOR="1")
    last = work / "last-message.txt"
    proc = subprocess.run(
        [str(CODEX), "exec", "--skip-git-repo-check", "--ephemeral",
         "--dangerously-bypass-approvals-and-sandbox", "-C", str(work), "-o", str(last), prompt],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env)
    return proc, last.read_text() if last.exists() else ""


def test_codex_plain_answer(codex_gateway, emulator):
    proc, answer = run_codex(codex_gateway, "say hello")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert answer.startswith("Echo:") and "say hello" in answer, answer
    [seen] = emulator.runtime_requests()
    assert seen["path"] == f"/model/{SONNET4.replace(':', '%3A')}/converse-stream"
    body = seen["body"]
    assert body["system"], "Codex's developer prompt becomes the system prompt"
    names = {t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]}
    assert {"exec_command", "apply_patch"} <= names, names


def test_codex_shell_tool_round_trip(codex_gateway, emulator):
    proc, answer = run_codex(codex_gateway, "[[scenario:shell:echo codex-was-here]] run it")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert answer.startswith("Tool results:") and "codex-was-here" in answer, answer
    first, second = emulator.runtime_requests()
    [call] = [b["toolUse"] for m in first["body"]["messages"] for b in m["content"] if "toolUse" in b] or [None]
    assert call is None, "the first request carries no tool history"
    turns = second["body"]["messages"]
    assistant = turns[-2]["content"]
    # Codex echoed the sealed reasoning, so Claude's thinking continues across the tool turn.
    assert "reasoningContent" in assistant[0], assistant
    assert second["body"]["additionalModelRequestFields"]["thinking"]["type"] == "enabled"
    assert assistant[-1]["toolUse"]["name"] == "exec_command"
    result = turns[-1]["content"][0]["toolResult"]
    assert "codex-was-here" in json.dumps(result)
