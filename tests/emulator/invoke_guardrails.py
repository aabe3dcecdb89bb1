"""Bedrock Guardrails on InvokeModel / InvokeModelWithResponseStream for Claude: the same known
guardrails and word lists as Converse (guardrails.py), named by headers instead of a body field.

Facts modelled (sources and what is inferred: /work/team/invoke-guardrail-facts.md):
- Headers X-Amzn-Bedrock-GuardrailIdentifier / -GuardrailVersion / -Trace, read case-insensitively;
  Trace is ENABLED | DISABLED | ENABLED_FULL (botocore bedrock-runtime model, shape `Trace`), its
  enum error in AWS's standard wording. No identifier: no guardrail. An identifier without a
  version, a body `amazon-bedrock-guardrailConfig` without an identifier, and a guardrail with a
  content type other than application/json are errors (API reference, `guardrailIdentifier`);
  Bedrock's texts for these are not public, the emulator's are its own. An identifier that fails
  the pattern: "The provided guardrail identifier is invalid." (langchain-ai/langchainjs#9245);
  unknown id or version: the Converse text (guardrails.NOT_FOUND).
- Body `amazon-bedrock-guardrailConfig` {tagSuffix, streamProcessingMode}: streamProcessingMode
  SYNCHRONOUS | ASYNCHRONOUS, InvokeModelWithResponseStream only (user guide, guardrails-streaming);
  it is taken out of the body before the Anthropic validation, which refuses any other unknown key.
  With a tagSuffix and `<amazon-bedrock-guardrails-guardContent_{suffix}>` tags in the prompt only
  the tagged text is assessed (user guide, guardrails-tagging). The tags are left in the prompt.
- Assessed input: the system prompt and the messages' text (a logged Claude InvokeModel
  intervention counts system + user characters in guardrailCoverage); tool results are not.
- Answers carry `amazon-bedrock-guardrailAction` INTERVENED | NONE whenever a guardrail applied
  (langchain-aws llms/bedrock.py GUARDRAILS_BODY_KEY), and `amazon-bedrock-trace`
  {"guardrail": {"input": {id: …}, "outputs": [{id: …}], "actionReason"}} only when Trace is
  ENABLED or ENABLED_FULL — keys differ from Converse's inputAssessment/outputAssessments.
  InvokeModel: in the body; the stream: in the message_stop chunk next to
  amazon-bedrock-invocationMetrics.
- Input intervention (model not called, no tokens): the body Bedrock logs, {type, role, content:
  [blocked input message]} and the guardrail fields, no id/model/stop_reason/usage (Panther rule
  AWS.BedrockModelInvocation.GuardRailIntervened, its Claude InvokeModel sample). The stream is a
  well-formed Anthropic stream with the blocked message as text, 0 tokens (inferred).
- Output intervention: the model's message with its content replaced by the blocked output
  message; stop_reason stays end_turn (hermes-agent, measured live: unlike Converse, no
  guardrail_intervened). A stream's message_delta then has no stop_sequence key
  (langchain-ai/langchain-aws#176, #214).
- Not modelled: ASYNCHRONOUS processing (accepted, but assessed first as in sync mode).
"""

import re

from aws_errors import coral_validation, validation
from guardrails import BLOCKED_REASON, NO_TOKENS, Applied, output_texts, well_formed_identifier, well_formed_version
from scenarios import Answer

CONFIG_KEY = "amazon-bedrock-guardrailConfig"
TRACE_VALUES = ("ENABLED", "DISABLED", "ENABLED_FULL")
STREAM_MODES = ("SYNCHRONOUS", "ASYNCHRONOUS")
BAD_IDENTIFIER = "The provided guardrail identifier is invalid."
BAD_VERSION = "The provided guardrail version is invalid."
NO_VERSION = "A guardrail version is required when a guardrail identifier is provided."
NO_IDENTIFIER_FOR_VERSION = "A guardrail identifier is required when a guardrail version is provided."
NO_IDENTIFIER_FOR_CONFIG = f"A guardrail identifier is required when {CONFIG_KEY} is provided."
NOT_JSON = "A guardrail can be applied only when the content type is application/json."


def _malformed(path, what):
    return validation(f"Malformed input request: #/{path}: {what}, please reformat your input and try again.")


def _config(body, streaming):
    """The body's amazon-bedrock-guardrailConfig, checked; {} when absent."""
    config = body.get(CONFIG_KEY) if isinstance(body, dict) else None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise _malformed(CONFIG_KEY, f"expected type: JSONObject, found: {type(config).__name__}")
    allowed = ("tagSuffix", "streamProcessingMode") if streaming else ("tagSuffix",)
    for key in config:
        if key not in allowed:
            raise _malformed(CONFIG_KEY, f"extraneous key [{key}] is not permitted")
    mode = config.get("streamProcessingMode", "SYNCHRONOUS")
    if mode not in STREAM_MODES:
        raise _malformed(f"{CONFIG_KEY}/streamProcessingMode", f"{mode} is not a valid enum value")
    suffix = config.get("tagSuffix")
    if suffix is not None and not (isinstance(suffix, str) and suffix):
        raise _malformed(f"{CONFIG_KEY}/tagSuffix", "expected a non-empty string")
    return config


def resolve(store, headers, body, region, streaming):
    """The guardrail an InvokeModel request names (None without one), or Bedrock's
    ValidationException. `headers` is the request's (case-insensitive) header map."""
    trace = headers.get("X-Amzn-Bedrock-Trace")
    if trace is not None and trace not in TRACE_VALUES:
        raise coral_validation("trace", "Member must satisfy enum value set: [" + ", ".join(TRACE_VALUES) + "]",
                               trace)
    ident = headers.get("X-Amzn-Bedrock-GuardrailIdentifier") or None
    version = headers.get("X-Amzn-Bedrock-GuardrailVersion") or None
    config = _config(body, streaming)
    if ident is None:
        if config or (isinstance(body, dict) and CONFIG_KEY in body):
            raise validation(NO_IDENTIFIER_FOR_CONFIG)
        if version is not None:
            raise validation(NO_IDENTIFIER_FOR_VERSION)
        return None
    if version is None:
        raise validation(NO_VERSION)
    if not well_formed_identifier(ident):
        raise validation(BAD_IDENTIFIER)
    if not well_formed_version(version):
        raise validation(BAD_VERSION)
    media_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise validation(NOT_JSON)
    guardrail = store.lookup(ident, version, region)
    return InvokeGuard(Applied(guardrail, (trace or "DISABLED").lower()), config.get("tagSuffix"))


def model_body(body):
    """The body the model sees: without amazon-bedrock-guardrailConfig."""
    if isinstance(body, dict) and CONFIG_KEY in body:
        return {k: v for k, v in body.items() if k != CONFIG_KEY}
    return body


def _input_texts(body):
    """System prompt and messages' text (string contents, text blocks; not tool results)."""
    system = body.get("system")
    if isinstance(system, str):
        yield system
    elif isinstance(system, list):
        yield from (b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str))
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (b["text"] for b in content
                        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))


def _tagged(texts, suffix):
    """Only the text inside guardContent tags of this suffix, when there is any."""
    tag = re.escape(f"amazon-bedrock-guardrails-guardContent_{suffix}")
    pattern = re.compile(f"<{tag}>(.*?)</{tag}>", re.DOTALL)
    spans = [span for t in texts for span in pattern.findall(t)]
    return spans if spans else texts


class InvokeGuard:
    """One InvokeModel request's guardrail: decides, then adds its fields to the answer."""

    def __init__(self, applied, tag_suffix):
        self.applied = applied
        self.tag_suffix = tag_suffix
        self.input_blocked = False
        self.output_assessment = None
        self.output_blocked = False

    @property
    def intervened(self):
        return self.input_blocked or self.output_blocked

    def blocks_input(self, body):
        texts = list(_input_texts(body))
        if self.tag_suffix:
            texts = _tagged(texts, self.tag_suffix)
        self.input_blocked = self.applied.assess_input(texts)
        return self.input_blocked

    def blocked_input_answer(self):
        return Answer(blocks=[{"text": self.applied.g["blocked_input_message"]}], stop_reason="end_turn",
                      usage=dict(NO_TOKENS), scenario="guardrail_input")

    def assess_output(self, ans):
        """After the model answered: replaces a blocked answer by the blocked output message."""
        if self.input_blocked or ans.http_error is not None:
            return
        matched, self.output_assessment = self.applied.assess_output(output_texts(ans))
        if matched:
            self.output_blocked = True
            ans.blocks = [{"text": self.applied.g["blocked_output_message"]}]
            ans.stop_reason = "end_turn"
            ans.additional_fields = None

    def fields(self):
        out = {"amazon-bedrock-guardrailAction": "INTERVENED" if self.intervened else "NONE"}
        if self.applied.trace_mode in ("enabled", "enabled_full"):
            gid = self.applied.g["id"]
            trace = {"input": {gid: self.applied.input_assessment()}}
            if self.output_assessment is not None:
                trace["outputs"] = [{gid: self.output_assessment}]
            if self.intervened:
                trace["actionReason"] = BLOCKED_REASON
            out["amazon-bedrock-trace"] = {"guardrail": trace}
        return out

    def message(self, message):
        """The InvokeModel body: the Anthropic message (or, input blocked, what Bedrock sends)."""
        if self.input_blocked:
            message = {k: message[k] for k in ("type", "role", "content")}
        return dict(message, **self.fields())

    def stream(self, events, stop_event):
        """Adjusts the stream's events in place; the guardrail fields ride on message_stop."""
        if self.input_blocked:
            events[0]["message"]["usage"]["output_tokens"] = 0
        if self.intervened:
            delta = next(e for e in events if e["type"] == "message_delta")["delta"]
            delta.pop("stop_sequence", None)
        stop_event.update(self.fields())
