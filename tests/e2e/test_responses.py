"""The Responses API through real Envoy + the filter to the emulator, with openai-python's
`client.responses.create(...)` and `client.responses.stream(...)`."""

import json
import urllib.error
import urllib.request

import openai
import pydantic
import pytest

from conftest import CLIENT_KEY, HAIKU

SONNET4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PERSON_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                 "required": ["name", "age"], "additionalProperties": False}
PERSON_FORMAT = {"format": {"type": "json_schema", "name": "person", "strict": True, "schema": PERSON_SCHEMA},
                 "verbosity": "low"}


class Person(pydantic.BaseModel):
    name: str
    age: int
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                          "required": ["location"]}}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Apply a patch to files",
         "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'}}


def post(gateway, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{gateway.port}{path}", data=json.dumps(body).encode(),
                                 method="POST")
    req.add_header("content-type", "application/json")
    req.add_header("authorization", f"Bearer {CLIENT_KEY}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("content-type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read().decode()


def items(response):
    """Output items as plain dicts, ready to go back in the next request's input."""
    return [item.model_dump(exclude_none=True) for item in response.output]


def test_create_text(client, emulator):
    resp = client.responses.create(model=HAIKU, instructions="Be brief.", input="Hello!", max_output_tokens=50)
    assert resp.object == "response" and resp.id.startswith("resp_")
    assert resp.status == "completed"
    assert resp.model == HAIKU
    assert resp.output_text == "Echo: Hello!"
    assert resp.output[0].type == "message" and resp.output[0].role == "assistant"
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert resp.usage.output_tokens_details.reasoning_tokens == 0

    [seen] = emulator.runtime_requests()
    assert seen["path"].endswith("/converse")
    assert seen["body"]["system"] == [{"text": "Be brief."}]
    assert seen["body"]["messages"] == [{"role": "user", "content": [{"text": "Hello!"}]}]
    assert seen["body"]["inferenceConfig"] == {"maxTokens": 50}


def test_stream_text_event_sequence(client, emulator):
    input_items = [
        {"type": "message", "id": "msg_dev", "role": "developer", "content": [{"type": "input_text", "text": "Rules"}]},
        {"type": "message", "id": "msg_u1", "role": "user", "content": [{"type": "input_text", "text": "Stream me"}]},
    ]
    with client.responses.stream(model=HAIKU, input=input_items) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                 "response.output_text.done", "response.content_part.done", "response.output_item.done"):
        assert kind in kinds, kind
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Echo: Stream me"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == "Echo: Stream me"
    assert final.usage.input_tokens > 0
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens

    [seen] = emulator.runtime_requests()
    assert seen["path"].endswith("/converse-stream")
    assert seen["body"]["system"] == [{"text": "Rules"}]


@pytest.mark.parametrize("stream", [False, True])
def test_function_tool_round_trip(client, emulator, stream):
    first_input = [{"role": "user", "content": "[[scenario:tool]] Weather in Paris?"}]
    kwargs = dict(model=HAIKU, tools=[WEATHER, {"type": "web_search"}], tool_choice="auto")
    if stream:
        with client.responses.stream(input=first_input, **kwargs) as s:
            arg_deltas = "".join(e.delta for e in s if e.type == "response.function_call_arguments.delta")
            first = s.get_final_response()
    else:
        first = client.responses.create(input=first_input, **kwargs)
    [call] = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "Paris"}
    if stream:
        assert json.loads(arg_deltas) == {"location": "Paris"}
    tool_names = [t["toolSpec"]["name"] for t in emulator.runtime_requests()[0]["body"]["toolConfig"]["tools"]]
    assert tool_names == ["get_weather"], "hosted web_search is dropped"

    second = client.responses.create(
        input=first_input + items(first) + [
            {"type": "function_call_output", "call_id": call.call_id, "output": "22 C and sunny"}],
        **kwargs)
    assert second.output_text == "Tool results: 22 C and sunny"
    turns = emulator.runtime_requests()[1]["body"]["messages"]
    assert turns[1]["content"][-1]["toolUse"]["toolUseId"] == call.call_id
    assert turns[2]["content"][0]["toolResult"]["toolUseId"] == call.call_id


def test_custom_tool_round_trip(client, emulator):
    first_input = [{"role": "user", "content": "[[scenario:tool]] Create hello.txt"}]
    with client.responses.stream(model=HAIKU, input=first_input, tools=[PATCH]) as s:
        events = list(s)
        first = s.get_final_response()
    [call] = [o for o in first.output if o.type == "custom_tool_call"]
    assert call.name == "apply_patch"
    # The emulator fills the one string argument with "test": it comes back raw, not as JSON.
    assert call.input == "test"
    assert "".join(e.delta for e in events if e.type == "response.custom_tool_call_input.delta") == "test"
    spec = emulator.runtime_requests()[0]["body"]["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["inputSchema"]["json"]["required"] == ["input"]
    assert "*** Begin Patch" in spec["description"]

    second = client.responses.create(
        model=HAIKU, tools=[PATCH],
        input=first_input + items(first) + [
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Success. A hello.txt"}])
    assert second.output_text == "Tool results: Success. A hello.txt"
    assistant = emulator.runtime_requests()[1]["body"]["messages"][1]
    assert assistant["content"][-1]["toolUse"]["input"] == {"input": "test"}


def test_reasoning_round_trip_with_tools(client, emulator):
    """Claude thinking with a tool call: the signed thinking goes out sealed in encrypted_content
    and must come back on the next turn, or Bedrock refuses the tool turn with thinking on."""
    first_input = [{"role": "user", "content": "[[scenario:tool]] Weather in Paris?"}]
    kwargs = dict(model=SONNET4, tools=[WEATHER], reasoning={"effort": "medium", "summary": "auto"},
                  include=["reasoning.encrypted_content"], store=False)
    with client.responses.stream(input=first_input, **kwargs) as s:
        events = list(s)
        first = s.get_final_response()
    assert [o.type for o in first.output] == ["reasoning", "function_call"]
    reasoning = first.output[0]
    assert reasoning.summary[0].text.startswith("Thinking about:")
    assert reasoning.encrypted_content
    assert "response.reasoning_summary_text.delta" in [e.type for e in events]
    sent = emulator.runtime_requests()[0]["body"]
    assert sent["additionalModelRequestFields"]["thinking"]["type"] == "enabled"

    call = first.output[1]
    second = client.responses.create(
        input=first_input + items(first) + [
            {"type": "function_call_output", "call_id": call.call_id, "output": "22 C"}],
        **kwargs)
    assert second.output_text == "Tool results: 22 C"
    body = emulator.runtime_requests()[1]["body"]
    assistant = body["messages"][1]["content"]
    original = emulator.runtime_requests()[0]
    assert "reasoningContent" in assistant[0], assistant
    assert assistant[0]["reasoningContent"]["reasoningText"]["text"] == reasoning.summary[0].text
    assert assistant[0]["reasoningContent"]["reasoningText"]["signature"]
    assert body["additionalModelRequestFields"]["thinking"]["type"] == "enabled", \
        "thinking stays on because the signed reasoning came back"
    assert original["body"]["messages"][0] == body["messages"][0]


def test_tool_history_without_tools_succeeds(client, emulator):
    """Codex's compaction request: full tool history, `tools: []`."""
    resp = client.responses.create(model=HAIKU, tools=[], tool_choice="auto", parallel_tool_calls=False, input=[
        {"role": "user", "content": "List files"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command",
         "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "id": "fco_1", "call_id": "call_1", "output": "a.txt"},
        {"role": "user", "content": "Summarise"},
    ])
    assert resp.status == "completed"
    body = emulator.runtime_requests()[0]["body"]
    assert "toolConfig" not in body
    assert "a.txt" in json.dumps(body["messages"])


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_continues_the_conversation(client, emulator, stream):
    """The earlier turns (input and output) come before the new input; the earlier
    instructions do not carry over."""
    def ask(text, **kw):
        if stream:
            with client.responses.stream(model=HAIKU, input=text, **kw) as s:
                return s.get_final_response()
        return client.responses.create(model=HAIKU, input=text, **kw)

    first = ask("First question", instructions="Be brief.")
    second = ask("Second question", previous_response_id=first.id)
    assert second.output_text == "Echo: Second question"
    assert second.previous_response_id == first.id
    third = ask("Third question", previous_response_id=second.id)
    assert third.output_text == "Echo: Third question"
    sent = emulator.runtime_requests()
    assert sent[0]["body"]["system"] == [{"text": "Be brief."}]
    assert "system" not in sent[-1]["body"]
    assert sent[-1]["body"]["messages"] == [
        {"role": "user", "content": [{"text": "First question"}]},
        {"role": "assistant", "content": [{"text": "Echo: First question"}]},
        {"role": "user", "content": [{"text": "Second question"}]},
        {"role": "assistant", "content": [{"text": "Echo: Second question"}]},
        {"role": "user", "content": [{"text": "Third question"}]},
    ]


def test_previous_response_id_unknown_is_400_and_nothing_is_forwarded(client, emulator):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=HAIKU, input="hi", previous_response_id="resp_123")
    assert e.value.body["param"] == "previous_response_id"
    assert e.value.body["code"] == "previous_response_not_found"
    assert "'resp_123'" in e.value.body["message"] and "full input" in e.value.body["message"]
    assert emulator.runtime_requests() == []


def test_item_store_off_refuses_previous_response_id(no_item_store_gateway, emulator):
    client = no_item_store_gateway.client()
    first = client.responses.create(model=HAIKU, input="First question")
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=HAIKU, input="hi", previous_response_id=first.id)
    assert "stateless" in str(e.value)
    assert e.value.body["param"] == "previous_response_id"
    assert len(emulator.runtime_requests()) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_item_reference_to_an_earlier_answer_is_resolved(client, emulator, stream):
    """Clients with `store: true` (the AI SDK's default) send earlier output back by id; the
    gateway remembers the items it returned and puts the referenced one back in the input."""
    if stream:
        with client.responses.stream(model=HAIKU, input="First question") as s:
            first = s.get_final_response()
    else:
        first = client.responses.create(model=HAIKU, input="First question")
    message_id = first.output[0].id
    assert first.output[0].type == "message" and message_id.startswith("msg_")
    second = client.responses.create(model=HAIKU, input=[
        {"role": "user", "content": "First question"},
        {"type": "item_reference", "id": message_id},
        {"role": "user", "content": "Second question"},
    ])
    assert second.output_text == "Echo: Second question"
    assert second.output[0].id != message_id
    assert emulator.runtime_requests()[-1]["body"]["messages"] == [
        {"role": "user", "content": [{"text": "First question"}]},
        {"role": "assistant", "content": [{"text": "Echo: First question"}]},
        {"role": "user", "content": [{"text": "Second question"}]},
    ]


def test_item_reference_to_an_unknown_item_is_400(client, emulator):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=HAIKU, input=[
            {"role": "user", "content": "hi"}, {"type": "item_reference", "id": "msg_never_returned_0"}])
    assert e.value.body["param"] == "input[1]"
    assert "msg_never_returned_0" in e.value.body["message"] and "store: false" in e.value.body["message"]
    assert emulator.runtime_requests() == []


def test_item_store_off_keeps_item_references_a_400(no_item_store_gateway, emulator):
    client = no_item_store_gateway.client()
    first = client.responses.create(model=HAIKU, input="First question")
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=HAIKU, input=[{"type": "item_reference", "id": first.output[0].id}])
    assert "item_reference" in e.value.body["message"] and "store: false" in e.value.body["message"]
    assert len(emulator.runtime_requests()) == 1


def test_errors_before_and_during_the_stream(client, gateway):
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=HAIKU, input="[[scenario:throttle]] hi", stream=True)
    with client.responses.stream(model=HAIKU, input="[[scenario:stream_error]] hi") as s:
        events = list(s)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.failed" and "response.completed" not in kinds
    assert events[-1].response.status == "failed"
    assert "streaming" in events[-1].response.error.message
    status, content_type, text = post(gateway, "/api/v1/responses",
                                      {"model": HAIKU, "input": "[[scenario:stream_error]] x", "stream": True})
    assert status == 200 and content_type == "text/event-stream"
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: response.failed\n")
    failed = json.loads(last.split("data: ", 1)[1])
    assert failed["response"]["status"] == "failed"
    assert "streaming" in failed["response"]["error"]["message"]


def test_api_prefix_and_non_stream_json(gateway):
    status, content_type, text = post(gateway, "/api/v1/responses", {"model": HAIKU, "input": "hi"})
    assert status == 200 and content_type == "application/json"
    body = json.loads(text)
    assert body["output"][0]["content"][0]["text"] == "Echo: hi"


# ---- text.format (structured output) -----------------------------------------------------


def last_body(emulator):
    return emulator.runtime_requests()[-1]["body"]


@pytest.mark.parametrize("stream", [False, True])
def test_text_format_json_schema_through_a_forced_tool(client, emulator, stream):
    kwargs = dict(model=HAIKU, input="John is 42.", text=PERSON_FORMAT)
    if stream:
        events = list(client.responses.create(stream=True, **kwargs))
        kinds = [e.type for e in events]
        assert kinds[-1] == "response.completed"
        assert not any("function_call" in k for k in kinds), kinds
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert json.loads(deltas) == {"name": "test", "age": 42}
        resp = events[-1].response
    else:
        resp = client.responses.create(**kwargs)
    assert resp.status == "completed"
    assert [o.type for o in resp.output] == ["message"], "the answer tool is not a function call"
    assert json.loads(resp.output_text) == {"name": "test", "age": 42}
    assert resp.text.format.type == "json_schema" and resp.text.format.name == "person"
    tool_config = last_body(emulator)["toolConfig"]
    assert tool_config["toolChoice"] == {"tool": {"name": "json_response"}}
    [spec] = [t["toolSpec"] for t in tool_config["tools"]]
    assert spec["inputSchema"]["json"] == PERSON_SCHEMA


def test_text_format_json_schema_native_on_claude_4_5(client, emulator):
    resp = client.responses.create(model=SONNET45, input="John is 42.", text=PERSON_FORMAT)
    assert json.loads(resp.output_text) == {"name": "test", "age": 42}
    sent = last_body(emulator)
    assert "toolConfig" not in sent
    structure = sent["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert structure["name"] == "person"
    assert json.loads(structure["schema"]) == PERSON_SCHEMA


@pytest.mark.parametrize("model", [HAIKU, SONNET45])
def test_parse_and_stream_with_a_pydantic_model(client, emulator, model):
    parsed = client.responses.parse(model=model, input="John is 42.", text_format=Person)
    assert parsed.output_parsed == Person(name="test", age=42)
    with client.responses.stream(model=model, input="John is 42.", text_format=Person) as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert kinds[-1] == "response.completed"
    assert final.output_parsed == Person(name="test", age=42)
    for seen in emulator.runtime_requests():
        body = seen["body"]
        if model == HAIKU:
            schema = body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
        else:
            schema = json.loads(body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"])
        assert schema["required"] == ["name", "age"], schema


def test_text_format_json_object_with_a_tool_lets_the_model_call_it(client, emulator):
    resp = client.responses.create(model=HAIKU, input="[[scenario:tool]] Weather in Paris?", tools=[WEATHER],
                                   text={"format": {"type": "json_object"}})
    [call] = [o for o in resp.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"location": "Paris"}
    tool_config = last_body(emulator)["toolConfig"]
    assert [t["toolSpec"]["name"] for t in tool_config["tools"]] == ["get_weather", "json_response"]
    assert tool_config["toolChoice"] == {"any": {}}


@pytest.mark.parametrize("fmt, param", [
    ({"type": "yaml"}, "text.format.type"),
    ({"type": "json_schema", "name": "person"}, "text.format.schema"),
    ({"type": "json_schema", "name": "a person", "schema": PERSON_SCHEMA}, "text.format.name"),
])
def test_invalid_text_format_is_400_and_nothing_is_forwarded(client, emulator, fmt, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=HAIKU, input="hi", text={"format": fmt})
    assert err.value.body["param"] == param
    assert err.value.body["type"] == "invalid_request_error"
    assert emulator.runtime_requests() == []
