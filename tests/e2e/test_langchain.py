"""LangChain (langchain-openai's ChatOpenAI and OpenAIEmbeddings) pointed at the gateway with no other
change, through real Envoy to the emulator: what LangChain users do, asserted as they would notice it."""

import asyncio
import base64
import json

import openai
import pydantic
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from conftest import CLIENT_KEY, HAIKU
from test_chat_translation import png_1x1

SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE_V3 = "cohere.embed-english-v3"


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"18C and sunny in {city}"


class Person(pydantic.BaseModel):
    """A person mentioned in the text."""
    name: str
    age: int


def chat(gateway, model=HAIKU, **kw):
    return ChatOpenAI(base_url=gateway.base_url, api_key=CLIENT_KEY, model=model, max_retries=0, timeout=60, **kw)


def bodies(emulator):
    return [r["body"] for r in emulator.runtime_requests()]


def paths(emulator):
    return [r["path"].rsplit("/", 1)[-1] for r in emulator.runtime_requests()]


def concat(chunks):
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def assert_usage(usage):
    assert usage is not None
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


# ---- Chat Completions (ChatOpenAI's default) ------------------------------------------------------------

def test_invoke_answers_with_usage_and_sends_system_and_settings(gateway, emulator):
    llm = chat(gateway, temperature=0.2, max_tokens=64)
    answer = llm.invoke([SystemMessage("Be brief."), HumanMessage("Hello there")])
    assert isinstance(answer, AIMessage)
    assert answer.content == "Echo: Hello there"
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.response_metadata["model_name"] == HAIKU
    assert_usage(answer.usage_metadata)
    [body] = bodies(emulator)
    assert paths(emulator) == ["converse"]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hello there"}]}]
    assert body["inferenceConfig"] == {"maxTokens": 64, "temperature": 0.2}


def test_invoke_with_a_plain_string_and_n_1(gateway, emulator):
    assert chat(gateway, n=1).invoke("Hi").content == "Echo: Hi"


def test_what_bedrock_cannot_do_is_a_clear_error(gateway, emulator):
    with pytest.raises(openai.BadRequestError, match="n=1"):
        chat(gateway, n=2).invoke("Hi")
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        chat(gateway, logprobs=True).invoke("Hi")
    assert emulator.runtime_requests() == []


@pytest.mark.parametrize("stream_usage", [False, True])
def test_stream_chunks_concatenate_to_the_answer(gateway, emulator, stream_usage):
    llm = chat(gateway, stream_usage=stream_usage)
    chunks = list(llm.stream("[[scenario:long:40]] go"))
    assert len(chunks) > 5, "streamed in pieces, not in one block"
    words = concat(chunks).content.split()
    assert len(words) == 40 and words[:3] == ["alpha", "bravo", "charlie"]
    assert concat(chunks).response_metadata["finish_reason"] == "stop"
    if stream_usage:
        assert_usage(concat(chunks).usage_metadata)
        assert concat(chunks).usage_metadata["output_tokens"] == 40
    else:
        assert concat(chunks).usage_metadata is None
    assert paths(emulator) == ["converse-stream"]


@pytest.mark.parametrize("stream", [False, True])
def test_bind_tools_round_trip(gateway, emulator, stream):
    llm = chat(gateway).bind_tools([get_weather])
    messages = [HumanMessage("[[scenario:tool]] Weather in Paris?")]
    if stream:
        chunks = list(llm.stream(messages))
        first = concat(chunks)
        pieces = [c for chunk in chunks for c in chunk.tool_call_chunks]
        assert pieces and pieces[0]["name"] == "get_weather"
        assert json.loads("".join(c["args"] or "" for c in pieces)) == {"city": "Paris"}
    else:
        first = llm.invoke(messages)
    assert first.response_metadata["finish_reason"] == "tool_calls"
    [call] = first.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"} and call["id"]
    assert not first.invalid_tool_calls

    result = get_weather.invoke(call)  # a ToolMessage answering this call
    assert isinstance(result, ToolMessage) and result.tool_call_id == call["id"]
    final = llm.invoke(messages + [first, result])
    assert final.content == "Tool results: 18C and sunny in Paris"
    assert not final.tool_calls

    first_body, second_body = bodies(emulator)
    [spec] = [t["toolSpec"] for t in first_body["toolConfig"]["tools"]]
    assert spec["name"] == "get_weather" and spec["description"] == "Current weather for a city."
    assert spec["inputSchema"]["json"]["properties"] == {"city": {"type": "string"}}
    assert [m["role"] for m in second_body["messages"]] == ["user", "assistant", "user"]
    assert second_body["messages"][1]["content"][-1]["toolUse"]["toolUseId"] == call["id"]
    assert second_body["messages"][2]["content"][0]["toolResult"]["toolUseId"] == call["id"]


def test_bind_tools_strict_forced_and_not_parallel(gateway, emulator):
    llm = chat(gateway).bind_tools([get_weather], tool_choice="get_weather", strict=True, parallel_tool_calls=False)
    answer = llm.invoke("Weather in Paris?")
    assert [c["args"] for c in answer.tool_calls] == [{"city": "Paris"}]
    [body] = bodies(emulator)
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}


@pytest.mark.parametrize("model", [HAIKU, SONNET45])
@pytest.mark.parametrize("method", [None, "function_calling"])
def test_with_structured_output(gateway, emulator, method, model):
    kwargs = {} if method is None else {"method": method}
    llm = chat(gateway, model=model).with_structured_output(Person, **kwargs)
    assert llm.invoke("John is 42.") == Person(name="test", age=42)
    [body] = bodies(emulator)
    if method is None and model == SONNET45:  # json_schema: Bedrock's native structured output
        schema = json.loads(body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"])
    else:  # a forced tool: LangChain's own (function_calling) or the gateway's json_response
        [spec] = [t["toolSpec"] for t in body["toolConfig"]["tools"]]
        assert body["toolConfig"]["toolChoice"] == {"tool": {"name": spec["name"]}}
        assert spec["name"] == ("Person" if method else "json_response")
        schema = spec["inputSchema"]["json"]
    assert schema["properties"].keys() == {"name", "age"}
    assert sorted(schema["required"]) == ["age", "name"]


def test_with_structured_output_json_mode(gateway, emulator):
    llm = chat(gateway).with_structured_output(method="json_mode")
    assert llm.invoke("Answer in JSON.") == {}  # the emulator's answer for a bare object schema
    [body] = bodies(emulator)
    [spec] = [t["toolSpec"] for t in body["toolConfig"]["tools"]]
    assert spec["inputSchema"]["json"] == {"type": "object"}


def test_with_structured_output_streams_the_parsed_object(gateway, emulator):
    llm = chat(gateway).with_structured_output(Person)
    parts = list(llm.stream("John is 42."))
    assert parts[-1] == Person(name="test", age=42)


@pytest.mark.parametrize("responses_api", [False, True])
def test_prompt_cache_reads_and_writes_reach_usage_metadata(gateway, emulator, responses_api):
    """LangChain (and LangSmith's cost view) read cache writes from OpenAI's `cache_write_tokens`."""
    # Sonnet 4 caches a prefix of at least 1,024 tokens (Claude 3 Haiku has no prompt caching).
    llm = chat(gateway, model=SONNET4, use_responses_api=responses_api, stream_usage=True,
               extra_body={"prompt_caching": True})
    messages = [SystemMessage("You are a meticulous assistant. " * 300), HumanMessage("Summarise the rules.")]
    first = llm.invoke(messages)
    written = first.usage_metadata["input_token_details"]["cache_creation"]
    assert written > 0 and first.usage_metadata["input_token_details"]["cache_read"] == 0
    second = concat(list(llm.stream(messages)))
    assert second.usage_metadata["input_token_details"]["cache_read"] == written
    assert second.usage_metadata["input_token_details"]["cache_creation"] == 0
    assert second.usage_metadata["input_tokens"] == first.usage_metadata["input_tokens"]


def test_async_batch_and_astream(gateway, emulator):
    llm = chat(gateway)

    async def run():
        answers = await llm.abatch(["one", "two", "three"])
        chunks = [c async for c in llm.astream("four")]
        return [a.content for a in answers], concat(chunks).content

    assert asyncio.run(run()) == (["Echo: one", "Echo: two", "Echo: three"], "Echo: four")


def test_image_content_block(gateway, emulator):
    image = base64.b64encode(png_1x1()).decode()
    message = HumanMessage(content_blocks=[{"type": "text", "text": "What is this?"},
                                           {"type": "image", "base64": image, "mime_type": "image/png"}])
    assert chat(gateway).invoke([message]).content == "Echo: What is this?"
    [body] = bodies(emulator)
    sent = body["messages"][0]["content"][1]["image"]
    assert sent["format"] == "png" and base64.b64decode(sent["source"]["bytes"]) == png_1x1()


def test_reasoning_effort_thinks_and_a_tool_round_trip_still_works(gateway, emulator):
    """ChatOpenAI keeps no signed thinking in its messages, so the gateway turns thinking off for the
    turn after a tool call rather than let Bedrock refuse it."""
    llm = chat(gateway, model=SONNET4, reasoning_effort="low").bind_tools([get_weather])
    messages = [HumanMessage("[[scenario:tool]] Weather in Paris?")]
    first = llm.invoke(messages)
    [call] = first.tool_calls
    final = llm.invoke(messages + [first, get_weather.invoke(call)])
    assert final.content == "Tool results: 18C and sunny in Paris"
    first_body, second_body = bodies(emulator)
    assert first_body["additionalModelRequestFields"]["thinking"]["type"] == "enabled"
    assert "thinking" not in second_body.get("additionalModelRequestFields", {})


# ---- Responses API (use_responses_api=True) -------------------------------------------------------------

def test_responses_invoke_and_stream(gateway, emulator):
    llm = chat(gateway, use_responses_api=True)
    answer = llm.invoke([SystemMessage("Be brief."), HumanMessage("Hello there")])
    assert answer.text == "Echo: Hello there"
    assert_usage(answer.usage_metadata)
    chunks = list(llm.stream("[[scenario:long:30]] go"))
    assert len(chunks) > 5
    streamed = concat(chunks)
    assert streamed.text.split()[:2] == ["alpha", "bravo"] and len(streamed.text.split()) == 30
    assert_usage(streamed.usage_metadata)
    assert paths(emulator) == ["converse", "converse-stream"]
    assert bodies(emulator)[0]["system"] == [{"text": "Be brief."}]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_tool_round_trip(gateway, emulator, stream):
    llm = chat(gateway, use_responses_api=True).bind_tools([get_weather])
    messages = [HumanMessage("[[scenario:tool]] Weather in Paris?")]
    first = concat(list(llm.stream(messages))) if stream else llm.invoke(messages)
    [call] = first.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    final = llm.invoke(messages + [first, get_weather.invoke(call)])
    assert final.text == "Tool results: 18C and sunny in Paris"
    second_body = bodies(emulator)[1]
    assert second_body["messages"][2]["content"][0]["toolResult"]["toolUseId"] == call["id"]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_reasoning_continues_across_a_tool_call(gateway, emulator, stream):
    llm = chat(gateway, model=SONNET4, reasoning={"effort": "low", "summary": "auto"}).bind_tools([get_weather])
    messages = [HumanMessage("[[scenario:tool]] Weather in Paris?")]
    first = concat(list(llm.stream(messages))) if stream else llm.invoke(messages)
    [reasoning] = [b for b in first.content if b["type"] == "reasoning"]
    assert [s["text"] for s in reasoning["summary"]] == ["Thinking about: Weather in Paris?"]
    [call] = first.tool_calls
    final = llm.invoke(messages + [first, get_weather.invoke(call)])
    assert final.text == "Tool results: 18C and sunny in Paris"
    first_body, second_body = bodies(emulator)
    assert paths(emulator)[0] == ("converse-stream" if stream else "converse")
    for body in (first_body, second_body):
        assert body["additionalModelRequestFields"]["thinking"]["type"] == "enabled"
    replayed = second_body["messages"][1]["content"]
    assert [next(iter(b)) for b in replayed] == ["reasoningContent", "toolUse"]
    assert replayed[0]["reasoningContent"]["reasoningText"]["signature"]


def test_responses_previous_response_id_continues_from_the_remembered_response(gateway, emulator):
    """use_previous_response_id=True sends only the messages after the last AI answer, with
    its id; the gateway puts the remembered turns back (so an edit to the local copy of the
    first message is not what Bedrock sees)."""
    llm = chat(gateway, use_responses_api=True, use_previous_response_id=True)
    first = llm.invoke("Hello")
    second = llm.invoke([HumanMessage("Hello (local copy)"), first, HumanMessage("Again")])
    assert second.text == "Echo: Again"
    _, second_body = bodies(emulator)
    assert second_body["messages"] == [
        {"role": "user", "content": [{"text": "Hello"}]},
        {"role": "assistant", "content": [{"text": "Echo: Hello"}]},
        {"role": "user", "content": [{"text": "Again"}]},
    ]


def test_responses_structured_output(gateway, emulator):
    llm = chat(gateway, use_responses_api=True).with_structured_output(Person)
    assert llm.invoke("John is 42.") == Person(name="test", age=42)


# ---- Embeddings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, dims", [(TITAN_V2, 1024), (COHERE_V3, 1024)])
def test_embeddings(gateway, emulator, model, dims):
    emb = OpenAIEmbeddings(model=model, base_url=gateway.base_url, api_key=CLIENT_KEY,
                           check_embedding_ctx_length=False, max_retries=0)
    query = emb.embed_query("hello world")
    docs = emb.embed_documents(["hello world", "something else", "third"])
    assert len(query) == dims and len(docs) == 3 and all(len(d) == dims for d in docs)
    assert docs[0] == pytest.approx(query, abs=1e-6), "same text, same vector"
    assert docs[1] != pytest.approx(docs[0], abs=1e-3)


def test_embeddings_with_dimensions(gateway, emulator):
    emb = OpenAIEmbeddings(model=TITAN_V2, base_url=gateway.base_url, api_key=CLIENT_KEY, dimensions=256,
                           check_embedding_ctx_length=False, max_retries=0)
    assert len(emb.embed_query("hello")) == 256
