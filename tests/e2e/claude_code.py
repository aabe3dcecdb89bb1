"""Runs the real Claude Code CLI (`claude -p`, pinned in tests/agents) headless, in its two
gateway modes, with the environment of notes/claude-code-wire.md:

  Mode A (Anthropic Messages):  ANTHROPIC_BASE_URL=<base, no /v1>  ANTHROPIC_AUTH_TOKEN=<key>
  Mode B (Bedrock's own API):   CLAUDE_CODE_USE_BEDROCK=1  ANTHROPIC_BEDROCK_BASE_URL=<base>
                                AWS_BEARER_TOKEN_BEDROCK=<key>  AWS_REGION=us-east-1

Both with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (no outside connection at all) and a
throwaway HOME / CLAUDE_CONFIG_DIR. Writes are allowed with `--allowedTools Write` (as root,
--dangerously-skip-permissions is refused).
"""

import json
import subprocess

from agents import CLAUDE, agent_env, temp_dirs

# Bedrock ids the CLI's tiers use in Mode B. Pinning all of them removes the startup
# availability probes (one /invoke per unpinned tier), which keeps the request log exact.
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS41 = "us.anthropic.claude-opus-4-1-20250805-v1:0"
PINNED_TIERS = {"ANTHROPIC_DEFAULT_SONNET_MODEL": SONNET45, "ANTHROPIC_DEFAULT_HAIKU_MODEL": HAIKU45,
                "ANTHROPIC_DEFAULT_OPUS_MODEL": OPUS41, "ANTHROPIC_SMALL_FAST_MODEL": HAIKU45}
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
         "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1"}


class Run:
    def __init__(self, proc, work):
        self.proc = proc
        self.work = work
        self.result = None
        try:
            self.result = json.loads(proc.stdout)
        except ValueError:
            pass

    @property
    def ok(self):
        return self.proc.returncode == 0 and self.result is not None and not self.result.get("is_error")

    @property
    def text(self):
        return (self.result or {}).get("result", "")

    def explain(self):
        return f"exit {self.proc.returncode}\nstdout: {self.proc.stdout[-3000:]}\nstderr: {self.proc.stderr[-3000:]}"


def mode_a_env(base_url, key, model=None):
    return {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_AUTH_TOKEN": key, "ANTHROPIC_MODEL": model}


def mode_b_env(base_url, key, model=None, region="us-east-1"):
    env = {"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": base_url,
           "AWS_BEARER_TOKEN_BEDROCK": key, "AWS_REGION": region, "ANTHROPIC_MODEL": model}
    env.update(PINNED_TIERS)
    return env


def work_dir():
    return temp_dirs("claude")[1]


def run_claude(prompt, mode_env, work=None, allow_write=False, timeout=180):
    """`claude -p PROMPT --output-format json` with a fresh home, in `work` (fresh if None)."""
    home, fresh = temp_dirs("claude")
    work = work or fresh
    env = agent_env(home, CLAUDE_CONFIG_DIR=str(home / ".claude"), **QUIET, **mode_env)
    args = [str(CLAUDE), "-p", prompt, "--output-format", "json"]
    if allow_write:
        args += ["--allowedTools", "Write"]
    proc = subprocess.run(args, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return Run(proc, work)


def write_turns(path, content, done="Wrote the file."):
    """A script: the model asks for Claude Code's Write tool, then answers `done`."""
    return [{"text": "I'll create the file.", "tool_calls": [
                {"name": "Write", "input": {"file_path": str(path), "content": content}}]},
            {"text": done}]
