"""Bedrock Guardrails as Converse applies them: known guardrails (id, versions, a word list) and
what a request with `guardrailConfig` gets back. InvokeModel for Claude names the same guardrails
by headers and shares the lookup and assessments here (invoke_guardrails.py).

Known guardrails come from EMULATOR_GUARDRAILS (a JSON list) or, without it, one built-in
guardrail `g1` (versions 1 and DRAFT, word "forbidden"). Tests add more (no auth):

    POST /_emulator/guardrails {"id": "gr1abc", "versions": ["1", "DRAFT"], "words": ["secretword"],
                                "blocked_input_message": "...", "blocked_output_message": "..."}
    GET  /_emulator/guardrails   (what is known);  POST /_emulator/reset restores the start set

Facts modelled (sources in the comments where they apply):
- `guardrailIdentifier` is an id `[a-z0-9]+` or a guardrail ARN; `guardrailVersion` is DRAFT or
  1-99999999 (Bedrock API reference, GuardrailConfiguration). Guardrails are regional: an ARN of
  another region is unknown here.
- An unknown id or version: 400 ValidationException "The guardrail identifier or version provided
  in the request does not exist." (the same text for both, as reported by users who hit it, e.g.
  cross-region lookups).
- `streamProcessingMode` (sync | async) belongs to ConverseStream's GuardrailStreamConfiguration;
  Converse's GuardrailConfiguration has no such member.
- A word from the list in a message's text blocks input (the model is not called: no tokens);
  in the model's answer it blocks output. Either way the answer is the guardrail's blocked
  message as the assistant's text with stopReason `guardrail_intervened`. The console's default
  blocked message is "Sorry, the model cannot answer this question.".
- With `trace` enabled (or enabled_full) the answer carries `trace.guardrail` (Converse: top
  level; ConverseStream: in the metadata event): `inputAssessment` keyed by guardrail id,
  `outputAssessments` keyed by id (a list), `modelOutput` (the blocked model output) and
  `actionReason`, each assessment a GuardrailAssessment (`wordPolicy.customWords[]` with `match`,
  `action` BLOCKED, `detected`; `invocationMetrics`), as in the API reference's
  GuardrailTraceAssessment / GuardrailAssessment. enabled_full also lists words not detected.
  Tool results and tool definitions are not assessed (user guide, guardrails with Converse).
- Not modelled: `async` stream processing (Bedrock then streams chunks before assessing them, so
  an output intervention can follow text already sent); the emulator assesses first, as `sync`.
"""

import json
import os
import re
import threading

from aws_errors import validation

DEFAULT_BLOCKED = "Sorry, the model cannot answer this question."
NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."
_ID = re.compile(r"[a-z0-9]+")
_ARN = re.compile(r"arn:aws(-[^:]+)?:bedrock:([a-z0-9-]{1,20}):([0-9]{12}):guardrail/([a-z0-9]+)")
_VERSION = re.compile(r"DRAFT|[1-9][0-9]{0,7}")
BLOCKED_REASON = "Guardrail blocked."
NO_TOKENS = {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
BUILT_IN = [{"id": "g1", "versions": ["1", "DRAFT"], "words": ["forbidden"]}]


def well_formed_identifier(ident):
    """An id [a-z0-9]+ or a guardrail ARN (Bedrock API reference, GuardrailIdentifier)."""
    return isinstance(ident, str) and bool(_ID.fullmatch(ident) or _ARN.fullmatch(ident))


def well_formed_version(version):
    return isinstance(version, str) and bool(_VERSION.fullmatch(version))


def _parse(spec):
    if not isinstance(spec, dict) or not isinstance(spec.get("id"), str) or not _ID.fullmatch(spec["id"]):
        raise ValueError("a guardrail needs an 'id' matching [a-z0-9]+")
    versions = spec.get("versions", ["DRAFT"])
    words = spec.get("words", [])
    if not all(isinstance(v, str) and _VERSION.fullmatch(v) for v in versions):
        raise ValueError("'versions' must be DRAFT or numbers 1-99999999")
    if not all(isinstance(w, str) and w for w in words):
        raise ValueError("'words' must be non-empty strings")
    return {
        "id": spec["id"],
        "versions": list(versions),
        "words": list(words),
        "blocked_input_message": spec.get("blocked_input_message", DEFAULT_BLOCKED),
        "blocked_output_message": spec.get("blocked_output_message", DEFAULT_BLOCKED),
    }


class GuardrailStore:
    """Known guardrails, shared by the handler threads."""

    def __init__(self, env_value=None):
        start = json.loads(env_value) if env_value else BUILT_IN
        self._start = {g["id"]: g for g in map(_parse, start)}
        self._known = dict(self._start)
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls):
        return cls(os.environ.get("EMULATOR_GUARDRAILS"))

    def add(self, raw_body):
        try:
            g = _parse(json.loads(raw_body or b"null"))
        except ValueError as exc:  # also malformed JSON
            return 400, {"message": str(exc)}
        with self._lock:
            self._known[g["id"]] = g
        return 200, self.listing()

    def listing(self):
        with self._lock:
            return sorted(self._known.values(), key=lambda g: g["id"])

    def reset(self):
        with self._lock:
            self._known = dict(self._start)

    def resolve(self, body, region, streaming):
        """The guardrail a Converse body names (None without guardrailConfig); raises Bedrock's
        ValidationException for a bad or unknown one. Call after validate_converse."""
        gc = body.get("guardrailConfig")
        if gc is None:
            return None
        if not streaming and "streamProcessingMode" in gc:
            raise validation("Malformed input request: extraneous key [streamProcessingMode] is not permitted "
                             "at guardrailConfig, please reformat your input and try again.")
        mode = gc.get("streamProcessingMode", "sync")
        if mode not in ("sync", "async"):
            raise validation(f"1 validation error detected: Value '{mode}' at 'guardrailConfig.streamProcessingMode' "
                             "failed to satisfy constraint: Member must satisfy enum value set: [sync, async]")
        ident, version = gc["guardrailIdentifier"], gc["guardrailVersion"]
        if not well_formed_identifier(ident):
            raise validation(f"1 validation error detected: Value '{ident}' at 'guardrailConfig.guardrailIdentifier' "
                             "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                             "(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))")
        if not well_formed_version(version):
            raise validation(f"1 validation error detected: Value '{version}' at 'guardrailConfig.guardrailVersion' "
                             "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                             "(([1-9][0-9]{0,7})|(DRAFT))")
        return Applied(self.lookup(ident, version, region), gc.get("trace", "disabled"))

    def lookup(self, ident, version, region):
        """The known guardrail for a well-formed id (or ARN) and version, or Bedrock's
        ValidationException when it is unknown here (another region's ARN included)."""
        arn = _ARN.fullmatch(ident)
        if arn and arn.group(2) != region:
            raise validation(NOT_FOUND)
        with self._lock:
            g = self._known.get(arn.group(4) if arn else ident)
        if g is None or version not in g["versions"]:
            raise validation(NOT_FOUND)
        return g


def _message_texts(body):
    """Text the guardrail assesses as input: messages' text blocks (not tool results or tools)."""
    for m in body.get("messages", []):
        for b in m.get("content", []):
            if isinstance(b, dict) and isinstance(b.get("text"), str):
                yield b["text"]


def output_texts(ans):
    """The model's answer texts (scenarios.Answer blocks) the guardrail assesses as output."""
    return [b["text"] for b in ans.blocks if isinstance(b.get("text"), str)]


def _found(words, texts):
    hay = " ".join(texts).lower()
    return [w for w in words if re.search(r"\b" + re.escape(w.lower()) + r"\b", hay)]


class Applied:
    """One request's guardrail: decides and rewrites the answer."""

    def __init__(self, guardrail, trace):
        self.g = guardrail
        self.trace_mode = trace

    def _assessment(self, matched, chars):
        words = [{"match": w, "action": "BLOCKED", "detected": True} for w in matched]
        if self.trace_mode == "enabled_full":
            words += [{"match": w, "action": "NONE", "detected": False}
                      for w in self.g["words"] if w not in matched]
        out = {"invocationMetrics": {
            "guardrailProcessingLatency": 40 + chars % 50,
            "usage": {"topicPolicyUnits": 0, "contentPolicyUnits": 0, "wordPolicyUnits": 1,
                      "sensitiveInformationPolicyUnits": 0, "sensitiveInformationPolicyFreeUnits": 0,
                      "contextualGroundingPolicyUnits": 0},
            "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}}}}
        if words:
            out["wordPolicy"] = {"customWords": words}
        return out

    def assess_input(self, texts):
        """True when these input texts are blocked: the model must not be called."""
        self.input_matched = _found(self.g["words"], texts)
        self.input_chars = sum(len(t) for t in texts)
        return bool(self.input_matched)

    def input_assessment(self):
        return self._assessment(self.input_matched, self.input_chars)

    def assess_output(self, texts):
        """(words found in the model's output texts, their assessment)."""
        matched = _found(self.g["words"], texts)
        return matched, self._assessment(matched, sum(len(t) for t in texts))

    def blocks_input(self, body):
        """True when a Converse body's input is blocked: the model must not be called."""
        return self.assess_input(list(_message_texts(body)))

    def apply(self, ans):
        """Rewrites `ans` (scenarios.Answer) after the model answered, or for a blocked input."""
        gid = self.g["id"]
        trace = {"inputAssessment": {gid: self.input_assessment()}}
        if self.input_matched:
            ans.blocks = [{"text": self.g["blocked_input_message"]}]
            ans.stop_reason = "guardrail_intervened"
            ans.usage = dict(NO_TOKENS)
            trace["actionReason"] = BLOCKED_REASON
        elif ans.http_error is None:
            matched, assessment = self.assess_output(output_texts(ans))
            if matched or self.trace_mode == "enabled_full":
                trace["outputAssessments"] = {gid: [assessment]}
            if matched:
                trace["modelOutput"] = [json.dumps({"content": ans.blocks}, separators=(",", ":"))]
                trace["actionReason"] = BLOCKED_REASON
                ans.blocks = [{"text": self.g["blocked_output_message"]}]
                ans.stop_reason = "guardrail_intervened"
        if self.trace_mode in ("enabled", "enabled_full"):
            ans.trace = {"guardrail": trace}
