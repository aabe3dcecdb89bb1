"""The real Cline CLI (npm cline 3.0.65, tests/agents) headless through the gateway's OpenAI
front door (Chat Completions), configured as its docs say for an OpenAI-compatible endpoint:

    cline auth --provider openai --baseurl http://GATEWAY/v1 --apikey KEY --modelid MODEL
    cline --json "prompt"

(`openai` is saved as Cline's `openai-compatible` provider.) Its state lives in a throwaway
--data-dir and HOME; the emulator's scripted conversation drives it.
"""

import json
import subprocess

import pytest

from agents import CLINE, agent_env, script, served, temp_dirs
from conftest import CLIENT_KEY

pytestmark = pytest.mark.skipif(not CLINE.exists(), reason="run `make agents-deps` to install the agent CLIs")

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"


class ClineRun:
    def __init__(self, proc, work):
        self.proc = proc
        self.work = work
        self.events = []
        for line in proc.stdout.splitlines():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass
        results = [e for e in self.events if e.get("type") == "run_result"]
        self.result = results[-1] if results else {}

    @property
    def ok(self):
        return self.proc.returncode == 0 and self.result.get("finishReason") not in (None, "error", "aborted")

    def explain(self):
        return f"exit {self.proc.returncode}\nstdout: {self.proc.stdout[-4000:]}\nstderr: {self.proc.stderr[-2000:]}"


def run_cline(gateway, prompt, work=None, timeout=180, model=MODEL):
    home, fresh = temp_dirs("cline")
    work = work or fresh
    data = home / "cline-data"
    env = agent_env(home, CLINE_NO_AUTO_UPDATE="1")
    auth = subprocess.run(
        [str(CLINE), "auth", "--provider", "openai", "--baseurl", gateway.base_url, "--apikey", CLIENT_KEY,
         "--modelid", model, "--data-dir", str(data)],
        cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert auth.returncode == 0, auth.stdout + auth.stderr
    proc = subprocess.run(
        [str(CLINE), "--json", "--data-dir", str(data), "--cwd", str(work), "--retries", "1", prompt],
        cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return ClineRun(proc, work)


def converse_calls(emulator):
    return [r for r in emulator.runtime_requests() if r["path"] == MODEL_PATH]


def test_cline_plain_answer(gateway, emulator):
    script(emulator, [{"text": "Hello from the scripted model."}])
    run = run_cline(gateway, "say hi")
    assert run.ok, run.explain()
    assert run.result["text"] == "Hello from the scripted model."
    [call] = converse_calls(emulator)
    body = call["body"]
    assert body["messages"] == [{"role": "user", "content": [{"text": "say hi"}]}]
    assert body["system"], "Cline's system prompt becomes Converse's system"
    names = {t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]}
    assert {"editor", "read_files", "run_commands"} <= names, names
    assert call["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")  # the client key stayed at the gateway
    assert served(emulator) == [1]


def test_cline_writes_a_file_with_its_editor_tool(gateway, emulator):
    home, work = temp_dirs("cline-write")
    target = work / "hello.txt"
    script(emulator, [{"text": "Creating the file.", "tool_calls": [
                          {"name": "editor", "input": {"path": str(target), "new_text": "hello from cline\n"}}]},
                      {"text": "Created hello.txt."}])
    run = run_cline(gateway, "create hello.txt", work=work)
    assert run.ok, run.explain()
    assert run.result["text"] == "Created hello.txt." and run.result["iterations"] == 2
    assert target.read_text() == "hello from cline\n"
    first, second = converse_calls(emulator)
    assistant, results = second["body"]["messages"][-2:]
    [call] = [b["toolUse"] for b in assistant["content"] if "toolUse" in b]
    assert call["name"] == "editor" and call["input"]["path"] == str(target)
    [result] = [b["toolResult"] for b in results["content"] if "toolResult" in b]
    assert result["toolUseId"] == call["toolUseId"] and "File created successfully" in json.dumps(result)
    assert served(emulator) == [1, 1]


def test_cline_on_llama_which_takes_tools_only_without_streaming(gateway, emulator):
    """Cline always streams with its tools; Bedrock refuses tools on ConverseStream for Llama, so
    the gateway calls Converse and streams the whole answer to Cline."""
    llama = "us.meta.llama4-maverick-17b-instruct-v1:0"
    home, work = temp_dirs("cline-llama")
    target = work / "hello.txt"
    script(emulator, [{"text": "Creating the file.", "tool_calls": [
                          {"name": "editor", "input": {"path": str(target), "new_text": "hello from llama\n"}}]},
                      {"text": "Created hello.txt."}])
    run = run_cline(gateway, "create hello.txt", work=work, model=llama)
    assert run.ok, run.explain()
    assert run.result["text"] == "Created hello.txt."
    assert target.read_text() == "hello from llama\n"
    calls = emulator.runtime_requests()
    assert [c["path"].rsplit("/", 1)[1] for c in calls] == ["converse", "converse"]
    assert all("toolConfig" in c["body"] for c in calls)
    assert served(emulator) == [1, 1]
