"""Scripted conversations: a test decides what the model says on each of its turns.

    POST /_emulator/script  {"turns": [TURN, ...], "match": "optional text"}
    TURN = {"text": "..."} | {"tool_calls": [{"name": "write_to_file", "input": {...}}]}
           | both (text first, then the calls)
    GET /_emulator/script   the script and how often each turn was served
    DELETE /_emulator/script, or POST /_emulator/reset, removes it.

The k-th model turn of a conversation is the answer to a request holding k-1 assistant
messages, so a client's retry of the same turn gets the same answer and parallel
conversations do not disturb each other. When `match` is set, only conversations whose user
text contains it are scripted (agents also make side requests, e.g. titles). Turns beyond the
script, and unmatched conversations, answer as usual (scenario markers, echo).

It applies to Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream alike;
a scripted tool call must name a tool the request offers (a model cannot call anything else).
"""

import json
import threading

from aws_errors import validation


def _bad(message):
    return ValueError("invalid script: " + message)


def parse_script(obj):
    """Checks a script posted by a test; raises ValueError with a clear message."""
    if not isinstance(obj, dict) or not isinstance(obj.get("turns"), list) or not obj["turns"]:
        raise _bad('expected {"turns": [...]} with at least one turn')
    if "match" in obj and not isinstance(obj["match"], str):
        raise _bad("match must be a string")
    unknown = set(obj) - {"turns", "match"}
    if unknown:
        raise _bad(f"unknown keys {sorted(unknown)}")
    for k, turn in enumerate(obj["turns"], 1):
        if not isinstance(turn, dict) or not (set(turn) <= {"text", "tool_calls"}) or not turn:
            raise _bad(f"turn {k} must have text and/or tool_calls")
        if "text" in turn and (not isinstance(turn["text"], str) or not turn["text"].strip()):
            raise _bad(f"turn {k}: text must be a non-blank string")
        calls = turn.get("tool_calls", [])
        if not isinstance(calls, list) or ("tool_calls" in turn and not calls):
            raise _bad(f"turn {k}: tool_calls must be a non-empty list")
        for call in calls:
            if (not isinstance(call, dict) or not isinstance(call.get("name"), str)
                    or not isinstance(call.get("input", {}), dict) or set(call) - {"name", "input"}):
                raise _bad(f'turn {k}: each tool call is {{"name": str, "input": object}}')
    return {"turns": obj["turns"], "match": obj.get("match")}


class ScriptStore:
    def __init__(self):
        self._script = None
        self._served = []
        self._lock = threading.Lock()

    def set(self, script):
        with self._lock:
            self._script = script
            self._served = [0] * len(script["turns"]) if script else []

    def clear(self):
        self.set(None)

    def snapshot(self):
        with self._lock:
            return {"script": self._script, "served": list(self._served)}

    def turn_for(self, messages, user_text):
        """(k, turn) scripted for this request, or None."""
        with self._lock:
            script = self._script
            if script is None or (script["match"] and script["match"] not in user_text):
                return None
            k = sum(1 for m in messages if m.get("role") == "assistant") + 1
            if k > len(script["turns"]):
                return None
            self._served[k - 1] += 1
            return k, script["turns"][k - 1]


def all_user_text(messages):
    out = []
    for m in messages:
        if m.get("role") != "user":
            continue
        for b in m.get("content", []):
            if isinstance(b.get("text"), str):
                out.append(b["text"])
    return "\n".join(out)


def scripted_blocks(turn, offered_tools, make_id):
    """Converse content blocks for a scripted turn; make_id(index) gives tool-use ids."""
    blocks = [{"text": turn["text"]}] if "text" in turn else []
    names = [t["name"] for t in offered_tools]
    for i, call in enumerate(turn.get("tool_calls", [])):
        if call["name"] not in names:
            raise validation(f"Scripted tool call '{call['name']}' names a tool the request does not offer "
                             f"(offered: {', '.join(names) or 'none'}).")
        blocks.append({"toolUse": {"toolUseId": make_id(i), "name": call["name"],
                                   "input": json.loads(json.dumps(call.get("input", {})))}})
    stop = "tool_use" if turn.get("tool_calls") else "end_turn"
    return blocks, stop
