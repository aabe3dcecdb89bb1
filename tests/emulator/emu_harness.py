"""Starts emulator subprocesses on free ports for the tests in this folder.

Not named conftest.py on purpose: tests/e2e has its own conftest module, and two
top-level "conftest" modules collide when pytest collects both folders at once.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

API_KEYS = ("ABSKtestkey-one", "ABSKtestkey-two")
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token"


class Emu:
    def __init__(self, port, proc, env, stdout_path):
        self.port = port
        self.proc = proc
        self.env = env
        self.stdout_path = stdout_path
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://127.0.0.1:{port}"
        self.access_key = env.get("EMULATOR_ACCESS_KEY_ID", "AKIDEXAMPLE")
        self.secret_key = env.get("EMULATOR_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        self.region = env.get("EMULATOR_REGION", "us-east-1")
        self.token = env.get("EMULATOR_SESSION_TOKEN")


def start_emulator(extra_env):
    tmp = tempfile.mkdtemp(prefix="bedrock-emu-")
    port_file = os.path.join(tmp, "port")
    out_path = os.path.join(tmp, "stdout")
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("EMULATOR_"):
            del env[k]
    env.update({"EMULATOR_SEED": "4242", "EMULATOR_QUIET": "1", "EMULATOR_API_KEYS": ",".join(API_KEYS)})
    env.update(extra_env)
    out = open(out_path, "w")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "bedrock_emulator.py"), "--port", "0", "--port-file", port_file],
        stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 15
    while time.time() < deadline:
        if os.path.exists(port_file):
            return Emu(int(open(port_file).read()), proc, env, out_path)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("emulator did not start: " + open(out_path).read())


def stop_emulator(emu):
    emu.proc.send_signal(signal.SIGTERM)
    rc = emu.proc.wait(timeout=10)
    assert rc == 0, open(emu.stdout_path).read()


@pytest.fixture(scope="session")
def emu():
    e = start_emulator({})
    yield e
    stop_emulator(e)


@pytest.fixture(scope="session")
def emu_token():
    e = start_emulator({"EMULATOR_SESSION_TOKEN": SESSION_TOKEN, "EMULATOR_REGION": "eu-west-1",
                "EMULATOR_STRICT_ON_DEMAND": "1",
                "EMULATOR_ACCESS_KEY_ID": "ASIATESTTEMPKEY", "EMULATOR_SECRET_ACCESS_KEY": "temp/secret+key"})
    yield e
    stop_emulator(e)
