"""Explicit prompt caching (cachePoint) as Bedrock does it, per model.

- A cachePoint to a model without explicit prompt caching is refused; Nova takes checkpoints
  in system and messages only, and only the 5-minute TTL.
- A checkpoint counts only when the prompt since the previous counted checkpoint has at least
  the model's minimum of tokens (Claude 3.7 Sonnet: 1,024, so the second one needs 2,048 in
  all); the others are ignored silently, as the Bedrock prompt-caching guide says.
- Usage: the first request with a counted checkpoint writes the prefix, a later one with the
  same prefix reads it (cacheWriteInputTokens / cacheReadInputTokens); a request whose
  checkpoints all fall short reports zero for both.
"""

import hashlib

from aws_errors import validation

UNSUPPORTED = ("You invoked an unsupported model or your request did not allow prompt caching. "
               "See the documentation for more information.")


def _cache_points(body):
    """(JSON pointer, cachePoint) for every checkpoint, in prompt order."""
    out = []
    for i, tool in enumerate((body.get("toolConfig") or {}).get("tools") or []):
        if "cachePoint" in tool:
            out.append((f"#/toolConfig/tools/{i}", tool["cachePoint"]))
    for i, block in enumerate(body.get("system") or []):
        if "cachePoint" in block:
            out.append((f"#/system/{i}", block["cachePoint"]))
    for i, msg in enumerate(body["messages"]):
        for j, block in enumerate(msg["content"]):
            if "cachePoint" in block:
                out.append((f"#/messages/{i}/content/{j}", block["cachePoint"]))
    return out


def _extraneous(pointer):
    # earendil-works/pi#2053 (Nova Pro), zeroclaw-labs/zeroclaw#8943 (Nova 2 Lite)
    return validation(f"Malformed input request: {pointer}: extraneous key [cachePoint] is not permitted, "
                      "please reformat your input and try again.")


def check_cache_points(body, model):
    points = _cache_points(body)
    if not points:
        return
    nova = model.family == "amazon"
    if not model.cache_min_tokens:
        if nova:
            raise _extraneous(points[0][0])
        # cline/cline#2064, posit-dev/positron#12142, zeroclaw-labs/zeroclaw#7315
        raise validation(UNSUPPORTED)
    if not nova:
        return
    for pointer, cp in points:
        if pointer.startswith("#/toolConfig/"):
            raise _extraneous(pointer)  # Nova caches system and messages only
        if cp.get("ttl") == "1h":
            # maximhq/bifrost#4527 (Nova with a 1-hour TTL)
            raise validation("Extended TTL prompt caching is only supported for Anthropic models")


def usage(items, model, model_id, output_tokens, cache, force_cache):
    """Converse `usage` for a prompt given as (tokens, canonical text, is_cache_point) items
    in cache-prefix order (tools, system, messages)."""
    total_in = sum(t for t, _, _ in items)
    out = {"inputTokens": total_in, "outputTokens": output_tokens}
    read = write = 0
    counted = []  # (item index, prefix tokens) of the checkpoints that count
    since_last, prefix = 0, 0
    for idx, (tokens, _, is_cp) in enumerate(items):
        if is_cp:
            if since_last >= max(model.cache_min_tokens, 1):
                counted.append((idx, prefix))
                since_last = 0
            continue
        prefix += tokens
        since_last += tokens
    has_points = any(is_cp for _, _, is_cp in items)
    if counted:
        hits = []
        for idx, _ in counted:
            key = hashlib.sha256((model_id + "\n" + "\n".join(r for _, r, _ in items[:idx])).encode()).hexdigest()
            hits.append(cache.touch(key))
        last_tokens = counted[-1][1]
        read = max((tokens for (_, tokens), hit in zip(counted, hits) if hit), default=0)
        write = last_tokens - read
        out["inputTokens"] = total_in - last_tokens
    elif force_cache:
        read, write = 1024, 512
    if has_points or force_cache:
        out["cacheReadInputTokens"] = read
        out["cacheWriteInputTokens"] = write
    out["totalTokens"] = out["inputTokens"] + output_tokens + read + write
    return out
