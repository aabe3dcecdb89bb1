"""Validation of Converse / ConverseStream request bodies, as Bedrock does it.

Every violation raises a 400 ValidationException (aws_errors.AwsError).
Shapes were checked against botocore's bedrock-runtime service model
(service-2.json, API 2023-09-30); wording of the custom messages follows the
messages Bedrock is known to return. Indexes in paths are 0-based.

Rules:
  R1  body is a JSON object.
  R2  only known top-level fields: messages, system, inferenceConfig, toolConfig,
      guardrailConfig, additionalModelRequestFields, additionalModelResponseFieldPaths,
      promptVariables, requestMetadata, performanceConfig, serviceTier
      (+ outputConfig, projectIdentifier, present in the current service model).
  R3  messages is a non-empty list; first role is user; roles are user|assistant and alternate.
  R4  each message is {role, content} with content a non-empty list.
  R5  each content block has exactly one known member: text, image, document, video,
      toolUse, toolResult, reasoningContent, cachePoint, guardContent.
  R6  text is a string and not blank.
  R7  image {format: png|jpeg|gif|webp, source: {bytes}|{s3Location}}; bytes valid base64,
      1 byte .. 3.75 MB, magic number matches format; user turns only; <= 20 per request.
  R8  document {name, source, format?}: user turns only, needs a text block in the same
      message, name uses only letters/digits/space/-()[] ; <= 5 per request.
  R9  video {format, source}: user turns only.
  R10 toolUse {toolUseId, name, input: object}: assistant turns only; ids unique.
  R11 toolResult {toolUseId, content: [{text}|{json}|{image}|{document}|{video}], status?}:
      user turns only.
  R12 toolUse/toolResult present => toolConfig present.
  R13 every toolUse id of assistant turn N gets a toolResult in turn N+1; every
      toolResult references a toolUse of the previous assistant turn.
  R14 reasoningContent {reasoningText: {text, signature?}} | {redactedContent: base64}:
      assistant turns only; per family (signatures, see reasoning_rules.py).
  R15 cachePoint {type: "default", ttl?: 5m|1h}; at most 4 cache points in total.
  R16 system is a list of {text non-blank}|{cachePoint}|{guardContent}.
  R17 inferenceConfig {maxTokens int 1..model max, temperature 0..1, topP 0..1,
      stopSequences: <= 4 non-empty strings}.
  R18 toolConfig {tools: non-empty list of {toolSpec}|{systemTool}|{cachePoint}, toolChoice?};
      toolSpec {name ^[a-zA-Z0-9_-]{1,64}$ unique, description? non-empty,
      inputSchema: {json: object with type "object"}, strict?}.
  R19 toolChoice exactly one of {auto:{}}, {any:{}}, {tool:{name}} (name must exist);
      any/tool only for models that support forced tool use; tools only for models
      with tool support.
  R20 reasoning: each family's own switch and its rules (reasoning_rules.py);
      what the model cannot do (model_rules.py); cachePoint per model (prompt_cache.py).
  R21 Anthropic: a final assistant turn must not end with whitespace.
  R23 outputConfig.textFormat {type: json_schema, structure: {jsonSchema: {schema: JSON text
      of an object schema, name?, description?}}}; only models with structured output.
  R24 Anthropic: additionalModelRequestFields.tool_choice (Anthropic's own, e.g. for
      disable_parallel_tool_use) needs `type` auto|any|tool|none and a toolConfig.
  R22 the remaining small objects (requestMetadata, performanceConfig, serviceTier,
      guardrailConfig, additionalModelResponseFieldPaths, promptVariables, outputConfig)
      have their service-model shapes.
"""

import base64
import binascii
import json
import re

import model_rules
import prompt_cache
import reasoning_rules
from aws_errors import coral_validation, validation

TOP_LEVEL = {
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
    "additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables",
    "requestMetadata", "performanceConfig", "serviceTier", "outputConfig", "projectIdentifier",
}
BLOCK_KINDS = {"text", "image", "document", "video", "toolUse", "toolResult",
               "reasoningContent", "cachePoint", "guardContent"}
USER_ONLY = {"image", "document", "video", "toolResult"}
ASSISTANT_ONLY = {"toolUse", "reasoningContent"}
IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
DOC_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
VIDEO_FORMATS = ("mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp")
MAX_IMAGE_BYTES = 3_932_160  # 3.75 MB
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")
DOC_NAME = re.compile(r"^[A-Za-z0-9\-()\[\] ]+$")
METADATA = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]*$")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _obj(v, path):
    if not isinstance(v, dict):
        raise coral_validation(path, "Member must be a structure")
    return v


def _list(v, path):
    if not isinstance(v, list):
        raise coral_validation(path, "Member must be a list")
    return v


def _str(v, path):
    if not isinstance(v, str):
        raise coral_validation(path, "Member must be a string")
    return v


def _known(d, allowed, path, required=()):
    for k in d:
        if k not in allowed:
            raise validation(f"Malformed input request: extraneous key [{k}] is not permitted at {path}, "
                             "please reformat your input and try again.")
    for k in required:
        if k not in d:
            raise coral_validation(f"{path}.{k}", "Member must not be null")


def _union(d, allowed, path):
    _obj(d, path)
    keys = list(d)
    for k in keys:
        if k not in allowed:
            raise validation(f"Malformed input request: extraneous key [{k}] is not permitted at {path}, "
                             "please reformat your input and try again.")
    if len(keys) != 1:
        raise coral_validation(path, "Member must have exactly one field set")
    return keys[0]


def _b64(v, path):
    _str(v, path)
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise validation(f"Invalid base64 data at {path}. Provide the bytes base64-encoded and try again.")


def _magic_ok(fmt, data):
    if fmt == "png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if fmt == "jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if fmt == "gif":
        return data[:6] in (b"GIF87a", b"GIF89a")
    if fmt == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return False


def _s3(v, path):
    _obj(v, path)
    _known(v, {"uri", "bucketOwner"}, path, required=("uri",))
    if not _str(v["uri"], path + ".uri").startswith("s3://"):
        raise coral_validation(path + ".uri", "Member must satisfy regular expression pattern: s3://.*")


def _image(img, path):
    _obj(img, path)
    _known(img, {"format", "source"}, path, required=("format", "source"))
    fmt = img["format"]
    if fmt not in IMAGE_FORMATS:
        raise coral_validation(path + ".format", "Member must satisfy enum value set: [png, jpeg, gif, webp]", fmt)
    kind = _union(img["source"], {"bytes", "s3Location"}, path + ".source")
    if kind == "s3Location":
        _s3(img["source"]["s3Location"], path + ".source.s3Location")
        return
    data = _b64(img["source"]["bytes"], path + ".source.bytes")
    if not data:
        raise coral_validation(path + ".source.bytes", "Member must have length greater than or equal to 1")
    if len(data) > MAX_IMAGE_BYTES:
        raise validation(f"The image at {path} is {len(data)} bytes, which exceeds the 3.75 MB limit. "
                         "Reduce the image size and try again.")
    if not _magic_ok(fmt, data):
        raise validation(f"Unable to process the image at {path}: the image bytes are not a valid {fmt} image. "
                         "Check the format field and try again.")


def _document(doc, path):
    _obj(doc, path)
    _known(doc, {"format", "name", "source", "context", "citations"}, path, required=("name", "source"))
    if "format" in doc and doc["format"] not in DOC_FORMATS:
        raise coral_validation(path + ".format", "Member must satisfy enum value set: [" + ", ".join(DOC_FORMATS) + "]",
                               doc["format"])
    name = _str(doc["name"], path + ".name")
    if not name or len(name) > 200 or not DOC_NAME.match(name) or "  " in name:
        raise validation(f"The document name at {path}.name can only contain alphanumeric characters, whitespace "
                         "characters, hyphens, parentheses, and square brackets, without consecutive whitespace.")
    kind = _union(doc["source"], {"bytes", "s3Location", "text", "content"}, path + ".source")
    if kind == "bytes" and not _b64(doc["source"]["bytes"], path + ".source.bytes"):
        raise coral_validation(path + ".source.bytes", "Member must have length greater than or equal to 1")


def _video(v, path):
    _obj(v, path)
    _known(v, {"format", "source"}, path, required=("format", "source"))
    if v["format"] not in VIDEO_FORMATS:
        raise coral_validation(path + ".format", "Member must satisfy enum value set: [" + ", ".join(VIDEO_FORMATS) + "]",
                               v["format"])
    kind = _union(v["source"], {"bytes", "s3Location"}, path + ".source")
    if kind == "bytes":
        _b64(v["source"]["bytes"], path + ".source.bytes")
    else:
        _s3(v["source"]["s3Location"], path + ".source.s3Location")


def _cache_point(cp, path):
    _obj(cp, path)
    _known(cp, {"type", "ttl"}, path, required=("type",))
    if cp["type"] != "default":
        raise coral_validation(path + ".type", "Member must satisfy enum value set: [default]", cp["type"])
    if "ttl" in cp and cp["ttl"] not in ("5m", "1h"):
        raise coral_validation(path + ".ttl", "Member must satisfy enum value set: [5m, 1h]", cp["ttl"])


def _guard_content(g, path):
    kind = _union(g, {"text", "image"}, path)
    if kind == "text":
        t = _obj(g["text"], path + ".text")
        _known(t, {"text", "qualifiers"}, path + ".text", required=("text",))
        _str(t["text"], path + ".text.text")
    else:
        _obj(g["image"], path + ".image")


def _tool_result(tr, path):
    _obj(tr, path)
    _known(tr, {"toolUseId", "content", "status", "type"}, path, required=("toolUseId", "content"))
    if not TOOL_USE_ID.match(_str(tr["toolUseId"], path + ".toolUseId")):
        raise coral_validation(path + ".toolUseId", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+")
    if "status" in tr and tr["status"] not in ("success", "error"):
        raise coral_validation(path + ".status", "Member must satisfy enum value set: [success, error]", tr["status"])
    images = 0
    for i, item in enumerate(_list(tr["content"], path + ".content")):
        ip = f"{path}.content.{i}"
        kind = _union(item, {"text", "json", "image", "document", "video"}, ip)
        val = item[kind]
        if kind == "text":
            _str(val, ip + ".text")
        elif kind == "json":
            if val is None:
                raise coral_validation(ip + ".json", "Member must not be null")
        elif kind == "image":
            _image(val, ip + ".image")
            images += 1
        elif kind == "document":
            _document(val, ip + ".document")
        else:
            _video(val, ip + ".video")
    return images


def _reasoning(rc, path):
    kind = _union(rc, {"reasoningText", "redactedContent"}, path)
    if kind == "reasoningText":
        rt = _obj(rc["reasoningText"], path + ".reasoningText")
        _known(rt, {"text", "signature"}, path + ".reasoningText", required=("text",))
        _str(rt["text"], path + ".reasoningText.text")
        if "signature" in rt:
            _str(rt["signature"], path + ".reasoningText.signature")
    else:
        _b64(rc["redactedContent"], path + ".redactedContent")


def _validate_messages(msgs, ctx):
    _list(msgs, "messages")
    if not msgs:
        raise validation("A conversation must start with a user message. "
                         "Try again with a conversation that starts with a user message.")
    prev_role = None
    tool_use_turns = {}  # message index -> ordered tool use ids
    tool_result_turns = {}
    seen_ids = set()
    for i, msg in enumerate(msgs):
        mp = f"messages.{i}"
        _obj(msg, mp)
        _known(msg, {"role", "content"}, mp, required=("role", "content"))
        role = msg["role"]
        if role not in ("user", "assistant"):
            raise coral_validation(mp + ".role", "Member must satisfy enum value set: [user, assistant]", role)
        if i == 0 and role != "user":
            raise validation("A conversation must start with a user message. "
                             "Try again with a conversation that starts with a user message.")
        if role == prev_role:
            raise validation("A conversation must alternate between user and assistant roles. "
                             "Make sure the conversation alternates between user and assistant roles and try again.")
        prev_role = role
        content = _list(msg["content"], mp + ".content")
        if not content:
            raise validation(f"The content field in the Message object at {mp} is empty. "
                             "Add a ContentBlock object to the content field and try again.")
        has_text = has_doc = False
        for j, block in enumerate(content):
            bp = f"{mp}.content.{j}"
            kind = _union(block, BLOCK_KINDS, bp)
            val = block[kind]
            if kind in USER_ONLY and role != "user":
                raise validation(f"The {kind} block at {bp} is only allowed in a user message.")
            if kind == "reasoningContent" and role != "assistant":
                # langchain-ai/langchain-aws#401 (Bedrock)
                raise validation("User messages cannot contain reasoning content. Please remove the reasoning "
                                 "content and try again.")
            if kind in ASSISTANT_ONLY and role != "assistant":
                raise validation(f"The {kind} block at {bp} is only allowed in an assistant message.")
            if kind == "text":
                if not isinstance(val, str):
                    raise coral_validation(bp + ".text", "Member must be a string")
                if not val.strip():
                    raise validation(f"The text field in the ContentBlock object at {bp} is blank. "
                                     "Add text to the text field, and try again.")
                has_text = True
            elif kind == "image":
                _image(val, bp + ".image")
                ctx["images"] += 1
            elif kind == "document":
                _document(val, bp + ".document")
                ctx["documents"] += 1
                has_doc = True
            elif kind == "video":
                _video(val, bp + ".video")
                ctx["videos"] += 1
            elif kind == "toolUse":
                _obj(val, bp + ".toolUse")
                _known(val, {"toolUseId", "name", "input", "type"}, bp + ".toolUse",
                       required=("toolUseId", "name", "input"))
                tid = _str(val["toolUseId"], bp + ".toolUse.toolUseId")
                if not TOOL_USE_ID.match(tid):
                    raise coral_validation(bp + ".toolUse.toolUseId",
                                           "Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+")
                if not TOOL_NAME.match(_str(val["name"], bp + ".toolUse.name")):
                    raise coral_validation(bp + ".toolUse.name",
                                           "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+")
                if not isinstance(val["input"], dict):
                    raise validation(f"The input field of the toolUse block at {bp} must be a JSON object.")
                if tid in seen_ids:
                    raise validation(f"The model returned the following errors: toolUse ids must be unique. "
                                     f"Found duplicate id {tid} at {bp}.")
                seen_ids.add(tid)
                tool_use_turns.setdefault(i, []).append(tid)
                ctx["tool_blocks"] = True
            elif kind == "toolResult":
                ctx["images"] += _tool_result(val, bp + ".toolResult")
                tool_result_turns.setdefault(i, []).append(val["toolUseId"])
                ctx["tool_blocks"] = True
            elif kind == "reasoningContent":
                _reasoning(val, bp + ".reasoningContent")
            elif kind == "cachePoint":
                _cache_point(val, bp + ".cachePoint")
                ctx["cache_points"] += 1
            else:
                _guard_content(val, bp + ".guardContent")
        if has_doc and not has_text:
            raise validation(f"The message at {mp} contains a document block but no text block. "
                             "Add a text block with a question about the document and try again.")
    # R13: toolUse/toolResult pairing between adjacent turns (stray results reported first).
    for j, ids in tool_result_turns.items():
        offered = set(tool_use_turns.get(j - 1, []))
        extra = [t for t in ids if t not in offered]
        if extra:
            raise validation(f"The model returned the following errors: messages.{j}.content: unexpected toolUseId "
                             f"found in toolResult blocks: {', '.join(extra)}. Each toolResult block must have a "
                             f"corresponding toolUse block in the previous message.")
    for i, ids in tool_use_turns.items():
        got = set(tool_result_turns.get(i + 1, []))
        missing = [t for t in ids if t not in got]
        if missing:
            raise validation(f"Expected toolResult blocks at messages.{i + 1}.content for the following Ids: "
                             + ", ".join(missing))
    if ctx["images"] > 20:
        raise validation("Too many images: a request can contain at most 20 images.")
    if ctx["documents"] > 5:
        raise validation("Too many documents: a request can contain at most 5 documents.")


def _validate_system(system, ctx):
    for i, block in enumerate(_list(system, "system")):
        sp = f"system.{i}"
        kind = _union(block, {"text", "cachePoint", "guardContent"}, sp)
        if kind == "text":
            val = block["text"]
            if not isinstance(val, str) or not val.strip():
                raise validation(f"The text field in the SystemContentBlock object at {sp} is blank. "
                                 "Add text to the text field, and try again.")
        elif kind == "cachePoint":
            _cache_point(block["cachePoint"], sp + ".cachePoint")
            ctx["cache_points"] += 1
        else:
            _guard_content(block["guardContent"], sp + ".guardContent")


def _validate_inference(cfg, model):
    _obj(cfg, "inferenceConfig")
    _known(cfg, {"maxTokens", "temperature", "topP", "stopSequences"}, "inferenceConfig")
    if "maxTokens" in cfg:
        mt = cfg["maxTokens"]
        if not _is_int(mt):
            raise coral_validation("inferenceConfig.maxTokens", "Member must be an integer")
        if mt < 1:
            raise coral_validation("inferenceConfig.maxTokens", "Member must have value greater than or equal to 1", mt)
        if mt > model.max_output:
            raise validation(f"The maximum tokens you requested exceeds the model limit of {model.max_output}. "
                             f"Try again with a maximum tokens value that is lower than {model.max_output}.")
    for key in ("temperature", "topP"):
        if key in cfg:
            v = cfg[key]
            if not _is_num(v):
                raise coral_validation(f"inferenceConfig.{key}", "Member must be a number")
            if v < 0:
                raise coral_validation(f"inferenceConfig.{key}", "Member must have value greater than or equal to 0", v)
            if v > 1:
                raise coral_validation(f"inferenceConfig.{key}", "Member must have value less than or equal to 1", v)
    if "stopSequences" in cfg:
        seqs = _list(cfg["stopSequences"], "inferenceConfig.stopSequences")
        if len(seqs) > 4:
            raise coral_validation("inferenceConfig.stopSequences", "Member must have length less than or equal to 4")
        for i, s in enumerate(seqs):
            if not isinstance(s, str) or not s:
                raise coral_validation(f"inferenceConfig.stopSequences.{i}",
                                       "Member must have length greater than or equal to 1")


def _validate_tools(tc, model, ctx):
    _obj(tc, "toolConfig")
    _known(tc, {"tools", "toolChoice"}, "toolConfig", required=("tools",))
    tools = _list(tc["tools"], "toolConfig.tools")
    if not tools:
        raise coral_validation("toolConfig.tools", "Member must have length greater than or equal to 1")
    if not model.tools:
        raise validation("This model doesn't support tool use.")
    names = []
    for i, tool in enumerate(tools):
        tp = f"toolConfig.tools.{i}"
        kind = _union(tool, {"toolSpec", "systemTool", "cachePoint"}, tp)
        if kind == "cachePoint":
            _cache_point(tool["cachePoint"], tp + ".cachePoint")
            ctx["cache_points"] += 1
            continue
        if kind == "systemTool":
            st = _obj(tool["systemTool"], tp + ".systemTool")
            _known(st, {"name"}, tp + ".systemTool", required=("name",))
            names.append(_str(st["name"], tp + ".systemTool.name"))
            continue
        spec = _obj(tool["toolSpec"], tp + ".toolSpec")
        sp = tp + ".toolSpec"
        _known(spec, {"name", "description", "inputSchema", "strict"}, sp, required=("name", "inputSchema"))
        name = spec["name"]
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise coral_validation(sp + ".name", "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+", name)
        if "description" in spec and (not isinstance(spec["description"], str) or not spec["description"]):
            raise coral_validation(sp + ".description", "Member must have length greater than or equal to 1")
        if "strict" in spec and not isinstance(spec["strict"], bool):
            raise coral_validation(sp + ".strict", "Member must be a boolean")
        schema_kind = _union(spec["inputSchema"], {"json"}, sp + ".inputSchema")
        schema = spec["inputSchema"][schema_kind]
        if not isinstance(schema, dict):
            raise validation(f"The value at {sp}.inputSchema.json must be a JSON object.")
        if schema.get("type") != "object":
            raise validation(f"The value at {sp}.inputSchema.json.type must be one of the following: object.")
        if name in names:
            raise validation(f"The toolConfig field contains duplicate tool names: {name}. "
                             "Tool names must be unique.")
        names.append(name)
    choice = None
    if "toolChoice" in tc:
        choice = _union(tc["toolChoice"], {"auto", "any", "tool"}, "toolConfig.toolChoice")
        val = tc["toolChoice"][choice]
        _obj(val, f"toolConfig.toolChoice.{choice}")
        if choice == "tool":
            _known(val, {"name"}, "toolConfig.toolChoice.tool", required=("name",))
            if val["name"] not in names:
                raise validation(f"The tool {val['name']} in toolConfig.toolChoice.tool is not defined in "
                                 "toolConfig.tools.")
        else:
            _known(val, set(), f"toolConfig.toolChoice.{choice}")
        if choice != "auto" and not model.forced_tool_choice:
            raise validation(f"This model doesn't support the toolConfig.toolChoice.{choice} field. "
                             f"Remove toolConfig.toolChoice.{choice} and try again.")
    ctx["tool_choice"] = choice


def _validate_output_config(body, model):
    tf = (body.get("outputConfig") or {}).get("textFormat")
    if tf is None:
        return
    _known(_obj(tf, "outputConfig.textFormat"), {"type", "structure"}, "outputConfig.textFormat",
           required=("type", "structure"))
    if tf["type"] != "json_schema":
        raise coral_validation("outputConfig.textFormat.type", "Member must satisfy enum value set: [json_schema]",
                               tf["type"])
    _union(tf["structure"], {"jsonSchema"}, "outputConfig.textFormat.structure")
    js = _obj(tf["structure"]["jsonSchema"], "outputConfig.textFormat.structure.jsonSchema")
    _known(js, {"schema", "name", "description"}, "outputConfig.textFormat.structure.jsonSchema",
           required=("schema",))
    try:
        schema = json.loads(_str(js["schema"], "outputConfig.textFormat.structure.jsonSchema.schema"))
    except ValueError:
        raise validation("The JSON schema in outputConfig.textFormat is not valid JSON.")
    if not isinstance(schema, dict):
        raise validation("The JSON schema in outputConfig.textFormat must be a JSON object.")
    if not model.structured_output:
        raise validation("This model doesn't support structured outputs (outputConfig.textFormat). "
                         "Remove outputConfig and try again.")


def _validate_anthropic_tool_choice(body, model):
    choice = (body.get("additionalModelRequestFields") or {}).get("tool_choice")
    if choice is None or model.provider != "Anthropic":
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise validation("The model returned the following errors: tool_choice.type: Field required")
    if "toolConfig" not in body:
        raise validation("The model returned the following errors: tool_choice may only be specified "
                         "while providing tools.")


def _validate_small_fields(body):
    if "requestMetadata" in body:
        rm = _obj(body["requestMetadata"], "requestMetadata")
        if not 1 <= len(rm) <= 16:
            raise coral_validation("requestMetadata", "Member must have between 1 and 16 entries")
        for k, v in rm.items():
            if not (1 <= len(k) <= 256) or not METADATA.match(k):
                raise coral_validation("requestMetadata", "Map keys must satisfy regular expression pattern")
            if not isinstance(v, str) or len(v) > 256 or not METADATA.match(v):
                raise coral_validation(f"requestMetadata.{k}", "Member must satisfy regular expression pattern")
    if "performanceConfig" in body:
        pc = _obj(body["performanceConfig"], "performanceConfig")
        _known(pc, {"latency"}, "performanceConfig")
        if pc.get("latency", "standard") not in ("standard", "optimized"):
            raise coral_validation("performanceConfig.latency", "Member must satisfy enum value set: [standard, optimized]",
                                   pc.get("latency"))
    if "serviceTier" in body:
        st = _obj(body["serviceTier"], "serviceTier")
        _known(st, {"type"}, "serviceTier", required=("type",))
        if st["type"] not in ("priority", "default", "flex", "reserved"):
            raise coral_validation("serviceTier.type", "Member must satisfy enum value set: [priority, default, flex, reserved]",
                                   st["type"])
    if "guardrailConfig" in body:
        gc = _obj(body["guardrailConfig"], "guardrailConfig")
        _known(gc, {"guardrailIdentifier", "guardrailVersion", "trace", "streamProcessingMode"}, "guardrailConfig",
               required=("guardrailIdentifier", "guardrailVersion"))
        if gc.get("trace", "disabled") not in ("enabled", "disabled", "enabled_full"):
            raise coral_validation("guardrailConfig.trace", "Member must satisfy enum value set: [enabled, disabled, enabled_full]",
                                   gc.get("trace"))
    if "additionalModelResponseFieldPaths" in body:
        paths = _list(body["additionalModelResponseFieldPaths"], "additionalModelResponseFieldPaths")
        if len(paths) > 10:
            raise coral_validation("additionalModelResponseFieldPaths", "Member must have length less than or equal to 10")
        for i, p in enumerate(paths):
            if not isinstance(p, str) or not 1 <= len(p) <= 256:
                raise coral_validation(f"additionalModelResponseFieldPaths.{i}", "Member must have length between 1 and 256")
    if "promptVariables" in body:
        for k, v in _obj(body["promptVariables"], "promptVariables").items():
            _union(v, {"text"}, f"promptVariables.{k}")
    if "outputConfig" in body:
        _known(_obj(body["outputConfig"], "outputConfig"), {"textFormat", "effort"}, "outputConfig")
    if "projectIdentifier" in body:
        _str(body["projectIdentifier"], "projectIdentifier")


def validate_converse(body, model, streaming=False) -> dict:
    """Raise AwsError on the first violated rule; return facts the answer needs."""
    if not isinstance(body, dict):
        raise validation("Malformed input request, please reformat your input and try again.")
    _known(body, TOP_LEVEL, "the request body")
    if "messages" not in body:
        raise coral_validation("messages", "Member must not be null")
    ctx = {"images": 0, "documents": 0, "videos": 0, "cache_points": 0, "tool_blocks": False, "tool_choice": None}
    _validate_messages(body["messages"], ctx)
    if "system" in body:
        _validate_system(body["system"], ctx)
    if "inferenceConfig" in body:
        _validate_inference(body["inferenceConfig"], model)
    if "toolConfig" in body:
        _validate_tools(body["toolConfig"], model, ctx)
    elif ctx["tool_blocks"]:
        raise validation("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    if ctx["cache_points"] > 4:
        raise validation("The model returned the following errors: A maximum of 4 blocks with cache_control may be "
                         f"provided. Found {ctx['cache_points']}.")
    if "additionalModelRequestFields" in body:
        _obj(body["additionalModelRequestFields"], "additionalModelRequestFields")
    reasoning_rules.check_blocks(body["messages"], model)
    reasoning_rules.check_request(body, model, ctx)
    model_rules.check(body, model, ctx, streaming)
    prompt_cache.check_cache_points(body, model)
    _validate_output_config(body, model)
    _validate_anthropic_tool_choice(body, model)
    msgs = body["messages"]
    last = msgs[-1]
    if last["role"] == "assistant" and model.provider == "Anthropic":
        texts = [b["text"] for b in last["content"] if "text" in b]
        if texts and texts[-1] != texts[-1].rstrip():
            raise validation("The model returned the following errors: final assistant content cannot end with "
                             "trailing whitespace")
    _validate_small_fields(body)
    return ctx
