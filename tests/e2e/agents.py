"""Shared plumbing for the agent CLIs the e2e tests run headless (installed pinned in
tests/agents by `make agents-deps`): where they are, a clean environment with a throwaway home,
and the emulator's scripted conversations that drive them."""

import json
import os
import tempfile
import urllib.request
from pathlib import Path

from conftest import ROOT

BIN = ROOT / "tests" / "agents" / "node_modules" / ".bin"
CLAUDE = BIN / "claude"
CLINE = BIN / "cline"
CONTINUE = BIN / "cn"
# Only what a CLI needs to start; nothing of the developer's shell that names a provider,
# a key, a proxy or a config directory.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


def agent_env(home: Path, **extra):
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), NO_COLOR="1", TERM="dumb", CI="1")
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def temp_dirs(name):
    """A fresh (home, work) pair for one run."""
    home = Path(tempfile.mkdtemp(prefix=f"{name}-home-"))
    work = Path(tempfile.mkdtemp(prefix=f"{name}-work-"))
    return home, work


def script(emulator, turns, match=None):
    """Scripts the emulator's next conversation: turn k answers the model's k-th turn."""
    body = {"turns": turns}
    if match:
        body["match"] = match
    req = urllib.request.Request(f"{emulator.url}/_emulator/script", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def served(emulator):
    """How often each scripted turn was answered."""
    with urllib.request.urlopen(f"{emulator.url}/_emulator/script") as r:
        return json.load(r)["served"]
