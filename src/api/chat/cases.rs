//! Table of translation rules: one OpenAI chat request in, the exact Converse body out (or the
//! 400 it must get). Each case names the rule it pins down; the long agent conversations that
//! trip Bedrock are here too.

use super::*;
use crate::converse::conversation::OPENING_PLACEHOLDER;
use crate::converse::reasoning::INTERLEAVED_THINKING_BETA;
use serde_json::json;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const SONNET4: &str = "anthropic.claude-sonnet-4-20250514-v1:0";
const SONNET45: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const NOVA: &str = "amazon.nova-pro-v1:0";
const NOVA2: &str = "us.amazon.nova-2-lite-v1:0";
const LLAMA: &str = "meta.llama3-1-70b-instruct-v1:0";
const GPT_OSS: &str = "openai.gpt-oss-120b-1:0";
const R1: &str = "us.deepseek.r1-v1:0";
/// An 8-byte PNG signature, enough for the translator (Bedrock checks the rest).
const PNG_B64: &str = "iVBORw0KGgo=";

enum Expect {
    Converse(Value),
    /// A 400 whose message contains this.
    Rejected(&'static str),
}

struct Case {
    rule: &'static str,
    config: &'static str,
    request: Value,
    expect: Expect,
}

fn case(rule: &'static str, request: Value, expect: Value) -> Case {
    Case {
        rule,
        config: "{}",
        request,
        expect: Expect::Converse(expect),
    }
}

fn rejected(rule: &'static str, request: Value, message: &'static str) -> Case {
    Case {
        rule,
        config: "{}",
        request,
        expect: Expect::Rejected(message),
    }
}

fn with_config(mut c: Case, config: &'static str) -> Case {
    c.config = config;
    c
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": [{"text": text}]})
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
}

fn weather_spec() -> Value {
    json!({"toolSpec": {"name": "get_weather", "description": "Weather for a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}})
}

fn call(id: &str, args: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": "get_weather", "arguments": args}})
}

fn tool_use(id: &str, input: Value) -> Value {
    json!({"toolUse": {"toolUseId": id, "name": "get_weather", "input": input}})
}

fn tool_result(id: &str, text: &str) -> Value {
    json!({"toolResult": {"toolUseId": id, "content": [{"text": text}]}})
}

fn signed_thinking() -> Value {
    json!([{"type": "thinking", "thinking": "Paris first.", "signature": "c2ln"}])
}

fn reasoning_block() -> Value {
    json!({"reasoningContent": {"reasoningText": {"text": "Paris first.", "signature": "c2ln"}}})
}

/// A finished agent turn: the user asked, the model called a tool, the tool answered.
fn tool_round(assistant_content: Value) -> Vec<Value> {
    vec![
        json!({"role": "user", "content": "Weather in Paris?"}),
        json!({"role": "assistant", "content": assistant_content, "tool_calls": [call("t1", "{\"city\":\"Paris\"}")]}),
        json!({"role": "tool", "tool_call_id": "t1", "content": "18C"}),
    ]
}

fn cases() -> Vec<Case> {
    vec![
        // ---- messages -------------------------------------------------------------------------
        case(
            "system and developer messages become system blocks in order, string or text parts",
            json!({"model": HAIKU, "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}, {"type": "text", "text": "No emoji."}]},
                {"role": "user", "content": "hi"}]}),
            json!({"system": [{"text": "Be brief."}, {"text": "Use metric."}, {"text": "No emoji."}],
                   "messages": [user("hi")]}),
        ),
        case(
            "blank system text is dropped (Bedrock rejects it; BAG #167)",
            json!({"model": HAIKU, "messages": [
                {"role": "system", "content": "  "}, {"role": "user", "content": "hi"}]}),
            json!({"messages": [user("hi")]}),
        ),
        case(
            "user text and data: URL image parts become text and image blocks with raw bytes",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}"), "detail": "low"}}]}]}),
            json!({"messages": [{"role": "user", "content": [
                {"text": "What is this?"}, {"image": {"format": "png", "source": {"bytes": PNG_B64}}}]}]}),
        ),
        case(
            "jpeg, gif and webp data URLs keep their format",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": format!("data:image/jpeg;base64,{PNG_B64}")}},
                {"type": "image_url", "image_url": {"url": format!("data:image/gif;base64,{PNG_B64}")}},
                {"type": "image_url", "image_url": {"url": format!("data:image/webp;base64,{PNG_B64}")}},
                {"type": "text", "text": "Compare."}]}]}),
            json!({"messages": [{"role": "user", "content": [
                {"image": {"format": "jpeg", "source": {"bytes": PNG_B64}}},
                {"image": {"format": "gif", "source": {"bytes": PNG_B64}}},
                {"image": {"format": "webp", "source": {"bytes": PNG_B64}}},
                {"text": "Compare."}]}]}),
        ),
        rejected(
            "http(s) image URLs get a clear 400 (no fetch cluster)",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
            "data: URL",
        ),
        rejected(
            "image types Bedrock cannot read are refused",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/svg+xml;base64,PHN2Zy8+"}}]}]}),
            "not supported",
        ),
        rejected(
            "images over Bedrock's 3.75 MB limit are refused before sending",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", "A".repeat(5_100_000))}}]}]}),
            "3.75 MB",
        ),
        case(
            "name fields on messages are ignored",
            json!({"model": HAIKU, "messages": [{"role": "user", "name": "alice", "content": "hi"}]}),
            json!({"messages": [user("hi")]}),
        ),
        case(
            "consecutive user messages merge so roles alternate",
            json!({"model": HAIKU, "messages": [
                {"role": "user", "content": "one"}, {"role": "user", "content": "two"}]}),
            json!({"messages": [{"role": "user", "content": [{"text": "one"}, {"text": "two"}]}]}),
        ),
        case(
            "a conversation opening with the assistant gets a user turn first",
            json!({"model": HAIKU, "messages": [
                {"role": "assistant", "content": "How can I help?"}, {"role": "user", "content": "hi"}]}),
            json!({"messages": [user(OPENING_PLACEHOLDER),
                {"role": "assistant", "content": [{"text": "How can I help?"}]}, user("hi")]}),
        ),
        case(
            "fix 1: empty content arrays, empty and whitespace text parts and emptied messages are skipped",
            json!({"model": HAIKU, "messages": [
                {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": []},
                {"role": "assistant", "content": " \n"},
                {"role": "user", "content": [{"type": "text", "text": "  "}]},
                {"role": "user", "content": "again"}]}),
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}, {"text": "again"}]}]}),
        ),
        case(
            "assistant tool calls become toolUse blocks and tool messages toolResult blocks in a user turn",
            json!({"model": HAIKU, "tools": [weather_tool()], "messages": tool_round(json!("Checking."))}),
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [{"text": "Checking."}, tool_use("t1", json!({"city": "Paris"}))]},
                {"role": "user", "content": [tool_result("t1", "18C")]}],
                "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "fix 1: an assistant message with empty content and tool calls keeps only its toolUse",
            json!({"model": HAIKU, "tools": [weather_tool()], "messages": tool_round(json!(""))}),
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [tool_use("t1", json!({"city": "Paris"}))]},
                {"role": "user", "content": [tool_result("t1", "18C")]}],
                "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "null assistant content with tool calls (what SDKs send back) keeps only its toolUse",
            json!({"model": HAIKU, "tools": [weather_tool()], "messages": tool_round(Value::Null)}),
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [tool_use("t1", json!({"city": "Paris"}))]},
                {"role": "user", "content": [tool_result("t1", "18C")]}],
                "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "empty arguments mean {}, non-objects and truncated JSON are kept under a key",
            json!({"model": HAIKU, "tools": [weather_tool()], "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [call("a", ""), call("b", "[1]"), call("c", "{\"city\":\"Par")]},
                {"role": "tool", "tool_call_id": "a", "content": "x"},
                {"role": "tool", "tool_call_id": "b", "content": "y"},
                {"role": "tool", "tool_call_id": "c", "content": "z"}]}),
            json!({"messages": [user("go"),
                {"role": "assistant", "content": [tool_use("a", json!({})), tool_use("b", json!({"value": [1]})),
                    tool_use("c", json!({"raw_arguments": "{\"city\":\"Par"}))]},
                {"role": "user", "content": [tool_result("a", "x"), tool_result("b", "y"), tool_result("c", "z")]}],
                "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "parallel tool results followed by a user message share one user turn, results first",
            json!({"model": HAIKU, "tools": [weather_tool()], "messages": [
                {"role": "user", "content": "Paris and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [call("p", "{\"city\":\"Paris\"}"), call("r", "{\"city\":\"Rome\"}")]},
                {"role": "tool", "tool_call_id": "p", "content": [{"type": "text", "text": "18C"}]},
                {"role": "tool", "tool_call_id": "r", "content": "{\"temp\": 25}"},
                {"role": "user", "content": "And which is warmer?"}]}),
            json!({"messages": [user("Paris and Rome?"),
                {"role": "assistant", "content": [tool_use("p", json!({"city": "Paris"})), tool_use("r", json!({"city": "Rome"}))]},
                {"role": "user", "content": [tool_result("p", "18C"), tool_result("r", "{\"temp\": 25}"),
                    {"text": "And which is warmer?"}]}],
                "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "an empty tool result still answers the call",
            json!({"model": HAIKU, "tools": [weather_tool()], "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [call("a", "{}")]},
                {"role": "tool", "tool_call_id": "a", "content": ""}]}),
            json!({"messages": [user("go"),
                {"role": "assistant", "content": [tool_use("a", json!({}))]},
                {"role": "user", "content": [tool_result("a", "(no output)")]}],
                "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "tool_choice none with tool history: no tools offered, the history becomes text",
            json!({"model": HAIKU, "tools": [weather_tool()], "tool_choice": "none",
                   "messages": tool_round(Value::Null)}),
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [{"text": "[Called tool get_weather (id t1) with arguments: {\"city\":\"Paris\"}]"}]},
                {"role": "user", "content": [{"text": "[Result of tool call t1: 18C]"}]}]}),
        ),
        case(
            "tool history without a tools parameter also becomes text",
            json!({"model": HAIKU, "messages": tool_round(Value::Null)}),
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [{"text": "[Called tool get_weather (id t1) with arguments: {\"city\":\"Paris\"}]"}]},
                {"role": "user", "content": [{"text": "[Result of tool call t1: 18C]"}]}]}),
        ),
        case(
            "assistant thinking_blocks are passed back as reasoningContent first; unsigned ones are dropped",
            json!({"model": HAIKU, "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a", "reasoning_content": "unsigned",
                 "thinking_blocks": [{"type": "thinking", "thinking": "x"}, {"type": "thinking", "thinking": "Paris first.", "signature": "c2ln"},
                     {"type": "redacted_thinking", "data": "cmVk"}]},
                {"role": "user", "content": "more"}]}),
            json!({"messages": [user("q"),
                {"role": "assistant", "content": [reasoning_block(),
                    {"reasoningContent": {"redactedContent": "cmVk"}}, {"text": "a"}]},
                user("more")]}),
        ),
        rejected(
            "a tool message needs tool_call_id",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "x"}]}),
            "tool_call_id",
        ),
        // ---- tools ----------------------------------------------------------------------------
        case(
            "fix 1: an empty tool description becomes the tool's name; no parameters → empty object schema",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}],
                   "tools": [{"type": "function", "function": {"name": "now", "description": ""}}]}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [{"toolSpec": {"name": "now", "description": "now",
                "inputSchema": {"json": {"type": "object", "properties": {}}}}}]}}),
        ),
        case(
            "tool_choice auto is Bedrock's default and is not sent",
            json!({"model": NOVA, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()], "tool_choice": "auto"}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "tool_choice required → any",
            json!({"model": NOVA, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()], "tool_choice": "required"}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()], "toolChoice": {"any": {}}}}),
        ),
        case(
            "a named function tool_choice → tool",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()], "toolChoice": {"tool": {"name": "get_weather"}}}}),
        ),
        case(
            "models without forced tool use (Llama) get no toolChoice instead of a Bedrock 400",
            json!({"model": LLAMA, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()], "tool_choice": "required"}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()]}}),
        ),
        rejected(
            "a tool_choice naming an unknown tool is a 400",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
            "unknown tool",
        ),
        case(
            "parallel_tool_calls false on Claude → Anthropic disable_parallel_tool_use mirroring the choice",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "parallel_tool_calls": false}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()]},
                   "additionalModelRequestFields": {"tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}}),
        ),
        case(
            "parallel_tool_calls false with tool_choice required on Claude → type any",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "tool_choice": "required", "parallel_tool_calls": false}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()], "toolChoice": {"any": {}}},
                   "additionalModelRequestFields": {"tool_choice": {"type": "any", "disable_parallel_tool_use": true}}}),
        ),
        case(
            "parallel_tool_calls is ignored where the model has no switch, and without tools",
            json!({"model": NOVA, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "parallel_tool_calls": false}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec()]}}),
        ),
        // ---- parameters -----------------------------------------------------------------------
        case(
            "max_completion_tokens wins over max_tokens; temperature clamps to 1; a stop string is a list",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}],
                   "max_tokens": 10, "max_completion_tokens": 20, "temperature": 1.5, "top_p": 0.5, "stop": "END"}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 20, "temperature": 1.0, "topP": 0.5, "stopSequences": ["END"]}}),
        ),
        case(
            "seed, user, penalties, logit_bias, metadata and store are ignored (not sent to the model)",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "seed": 7, "user": "u1",
                   "frequency_penalty": 0.5, "presence_penalty": 0.1, "logit_bias": {"50256": -100},
                   "metadata": {"k": "v"}, "store": true, "logprobs": false, "n": 1, "stop": ["", "X"]}),
            json!({"messages": [user("hi")], "inferenceConfig": {"stopSequences": ["X"]}}),
        ),
        rejected("n > 1 is a 400", json!({"model": HAIKU, "n": 2, "messages": [{"role": "user", "content": "hi"}]}), "n=1"),
        rejected("logprobs are a 400", json!({"model": HAIKU, "logprobs": true, "messages": [{"role": "user", "content": "hi"}]}), "logprobs"),
        rejected("top_logprobs are a 400", json!({"model": HAIKU, "top_logprobs": 2, "messages": [{"role": "user", "content": "hi"}]}), "logprobs"),
        rejected(
            "more than four stop sequences is a 400",
            json!({"model": HAIKU, "stop": ["a", "b", "c", "d", "e"], "messages": [{"role": "user", "content": "hi"}]}),
            "stop sequences",
        ),
        case(
            "Claude 4.5 refuses temperature with top_p: top_p goes",
            json!({"model": SONNET45, "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3, "top_p": 0.9}),
            json!({"messages": [user("hi")], "inferenceConfig": {"temperature": 0.3}}),
        ),
        case(
            "extra_body (literal, as BAG) and SDK-merged thinking/top_k pass through; other unknown fields do not",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "top_k": 40, "service_tier": "auto",
                   "extra_body": {"custom_field": {"a": 1}}}),
            json!({"messages": [user("hi")], "additionalModelRequestFields": {"custom_field": {"a": 1}, "top_k": 40}}),
        ),
        // ---- reasoning ------------------------------------------------------------------------
        case(
            "reasoning_effort on Claude: budget is a share of max tokens; sampling parameters go",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "medium",
                   "max_tokens": 10000, "temperature": 0.2, "top_p": 0.9}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 10000},
                   "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 6000}}}),
        ),
        case(
            "reasoning_effort high stays below max tokens",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high", "max_tokens": 4000}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 4000},
                   "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 3999}}}),
        ),
        case(
            "reasoning_effort without max tokens uses a default limit; low never goes under 1024",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 8192},
                   "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2457}}}),
        ),
        case(
            "reasoning with max tokens too small for the minimum budget answers without thinking",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low", "max_tokens": 500}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 500}}),
        ),
        case(
            "reasoning_effort on a Claude without thinking is ignored",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high"}),
            json!({"messages": [user("hi")]}),
        ),
        case(
            "reasoning_effort on gpt-oss is passed as its own field",
            json!({"model": GPT_OSS, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "minimal"}),
            json!({"messages": [user("hi")], "additionalModelRequestFields": {"reasoning_effort": "low"}}),
        ),
        case(
            "reasoning_effort high on Nova 2 → reasoningConfig, without sampling or token limits",
            json!({"model": NOVA2, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high",
                   "max_tokens": 100, "temperature": 0.5}),
            json!({"messages": [user("hi")],
                   "additionalModelRequestFields": {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}}}),
        ),
        case(
            "reasoning_effort medium on Nova 2 keeps the limits",
            json!({"model": NOVA2, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "medium", "max_tokens": 100}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 100},
                   "additionalModelRequestFields": {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"}}}),
        ),
        case(
            "reasoning_effort on Nova 1 and DeepSeek R1 (always reasons) sends nothing",
            json!({"model": NOVA, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}),
            json!({"messages": [user("hi")]}),
        ),
        case(
            "DeepSeek R1 takes the request as is",
            json!({"model": R1, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high"}),
            json!({"messages": [user("hi")]}),
        ),
        case(
            "thinking is dropped when the last tool-calling assistant turn lacks its signed reasoning",
            json!({"model": SONNET4, "tools": [weather_tool()], "reasoning_effort": "low", "max_tokens": 4000,
                   "messages": tool_round(Value::Null)}),
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [tool_use("t1", json!({"city": "Paris"}))]},
                {"role": "user", "content": [tool_result("t1", "18C")]}],
                "inferenceConfig": {"maxTokens": 4000}, "toolConfig": {"tools": [weather_spec()]}}),
        ),
        case(
            "thinking stays when the tool turn carries its thinking_blocks (reasoning first)",
            {
                let mut messages = tool_round(Value::Null);
                messages[1]["thinking_blocks"] = signed_thinking();
                json!({"model": SONNET4, "tools": [weather_tool()], "reasoning_effort": "low", "max_tokens": 4000,
                       "messages": messages})
            },
            json!({"messages": [user("Weather in Paris?"),
                {"role": "assistant", "content": [reasoning_block(), tool_use("t1", json!({"city": "Paris"}))]},
                {"role": "user", "content": [tool_result("t1", "18C")]}],
                "inferenceConfig": {"maxTokens": 4000}, "toolConfig": {"tools": [weather_spec()]},
                "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1200}}}),
        ),
        case(
            "thinking is dropped when the tool choice forces a tool (Claude refuses both)",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "tool_choice": "required", "reasoning_effort": "low", "max_tokens": 4000}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 4000},
                   "toolConfig": {"tools": [weather_spec()], "toolChoice": {"any": {}}}}),
        ),
        case(
            "interleaved thinking per request (extra_body) adds Anthropic's beta flag",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4000,
                   "extra_body": {"thinking": {"type": "enabled", "budget_tokens": 2000}, "interleaved_thinking": true}}),
            json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 4000},
                   "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2000},
                       "anthropic_beta": [INTERLEAVED_THINKING_BETA]}}),
        ),
        with_config(
            case(
                "interleaved thinking from config joins betas the client sent",
                json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "medium",
                       "max_tokens": 4000, "anthropic_beta": ["context-1m-2025-08-07"]}),
                json!({"messages": [user("hi")], "inferenceConfig": {"maxTokens": 4000},
                       "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2400},
                           "anthropic_beta": ["context-1m-2025-08-07", INTERLEAVED_THINKING_BETA]}}),
            ),
            r#"{"interleaved_thinking": true}"#,
        ),
        with_config(
            case(
                "the interleaved flag does nothing without thinking",
                json!({"model": SONNET4, "messages": [{"role": "user", "content": "hi"}]}),
                json!({"messages": [user("hi")]}),
            ),
            r#"{"interleaved_thinking": true}"#,
        ),
        // ---- prompt caching -------------------------------------------------------------------
        case(
            "prompt caching on a model without it (Claude 3 Haiku) sends no cache point",
            json!({"model": HAIKU, "extra_body": {"prompt_caching": true}, "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}]},
                {"role": "user", "content": "q"}]}),
            json!({"system": [{"text": "Rules."}], "messages": [user("q")]}),
        ),
        case(
            "a model without system prompts (Mixtral) gets the system text first in the user turn",
            json!({"model": "mistral.mixtral-8x7b-instruct-v0:1", "messages": [
                {"role": "system", "content": "Be brief."}, {"role": "user", "content": "q"}]}),
            json!({"messages": [{"role": "user", "content": [{"text": "Be brief."}, {"text": "q"}]}]}),
        ),
        case(
            "a cache_control marker on a tool caches the tool list where the model caches",
            json!({"model": SONNET4, "messages": [{"role": "user", "content": "q"}],
                   "tools": [{"type": "function", "function": {"name": "f", "description": "d"},
                              "cache_control": {"type": "ephemeral"}}]}),
            json!({"messages": [user("q")], "toolConfig": {"tools": [
                {"toolSpec": {"name": "f", "description": "d", "inputSchema": {"json": {"type": "object", "properties": {}}}}},
                {"cachePoint": {"type": "default"}}]}}),
        ),
        case(
            "cache_control markers on content parts become cache points where the model caches",
            json!({"model": SONNET4, "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}]},
                {"role": "user", "content": [{"type": "text", "text": "Doc.", "cache_control": {"type": "ephemeral"}},
                                             {"type": "text", "text": "q"}]}]}),
            json!({"system": [{"text": "Rules."}, {"cachePoint": {"type": "default"}}],
                   "messages": [{"role": "user", "content": [{"text": "Doc."}, {"cachePoint": {"type": "default"}}, {"text": "q"}]}]}),
        ),
        case(
            "prompt caching per request: cache points after the system prompt and the last user turn",
            json!({"model": SONNET4, "extra_body": {"prompt_caching": true}, "messages": [
                {"role": "system", "content": "Long rules."}, {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]}),
            json!({"system": [{"text": "Long rules."}, {"cachePoint": {"type": "default"}}],
                   "messages": [user("q1"), {"role": "assistant", "content": [{"text": "a1"}]},
                       {"role": "user", "content": [{"text": "q2"}, {"cachePoint": {"type": "default"}}]}]}),
        ),
        case(
            "BAG's prompt_caching {system, messages} places only the asked-for points",
            json!({"model": NOVA, "prompt_caching": {"system": true}, "messages": [
                {"role": "system", "content": "Long rules."}, {"role": "user", "content": "q"}]}),
            json!({"system": [{"text": "Long rules."}, {"cachePoint": {"type": "default"}}], "messages": [user("q")]}),
        ),
        with_config(
            case(
                "prompt caching from config; a request can turn it off",
                json!({"model": HAIKU, "extra_body": {"prompt_caching": false}, "messages": [
                    {"role": "system", "content": "Long rules."}, {"role": "user", "content": "q"}]}),
                json!({"system": [{"text": "Long rules."}], "messages": [user("q")]}),
            ),
            r#"{"prompt_caching": true}"#,
        ),
        with_config(
            case(
                "no cache points for models without prompt caching",
                json!({"model": LLAMA, "messages": [
                    {"role": "system", "content": "Long rules."}, {"role": "user", "content": "q"}]}),
                json!({"system": [{"text": "Long rules."}], "messages": [user("q")]}),
            ),
            r#"{"prompt_caching": true}"#,
        ),
        // ---- response_format ------------------------------------------------------------------
        case(
            "json_schema on a model with native structured output → outputConfig.textFormat",
            json!({"model": SONNET45, "messages": [{"role": "user", "content": "John is 42"}],
                   "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true,
                       "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}}}),
            json!({"messages": [user("John is 42")], "outputConfig": {"textFormat": {"type": "json_schema",
                "structure": {"jsonSchema": {"name": "person",
                    "schema": "{\"properties\":{\"age\":{\"type\":\"integer\"}},\"type\":\"object\"}"}}}}}),
        ),
        case(
            "json_schema elsewhere → a forced answer tool with that schema",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "John is 42"}],
                   "response_format": {"type": "json_schema", "json_schema": {"name": "person", "description": "A person.",
                       "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}}}),
            json!({"messages": [user("John is 42")], "toolConfig": {"tools": [{"toolSpec": {"name": "json_response",
                "description": "Give your final answer by calling this tool; its input is the answer as a JSON object. It must be: A person.",
                "inputSchema": {"json": {"type": "object", "properties": {"age": {"type": "integer"}}}}}}],
                "toolChoice": {"tool": {"name": "json_response"}}}}),
        ),
        case(
            "json_object with client tools: the answer tool joins them and some tool must be called",
            json!({"model": NOVA, "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()],
                   "response_format": {"type": "json_object"}}),
            json!({"messages": [user("hi")], "toolConfig": {"tools": [weather_spec(), {"toolSpec": {"name": "json_response",
                "description": "Give your final answer by calling this tool; its input is the answer as a JSON object.",
                "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"any": {}}}}),
        ),
        case(
            "json_object on a model without forced tool use → an instruction in the system prompt",
            json!({"model": LLAMA, "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}),
            json!({"system": [{"text": "Answer with a single JSON object only: no prose, no code fences."}],
                   "messages": [user("hi")]}),
        ),
        case(
            "response_format text changes nothing",
            json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "text"}}),
            json!({"messages": [user("hi")]}),
        ),
        // ---- model ids ------------------------------------------------------------------------
        with_config(
            case(
                "model aliases resolve before translation",
                json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}),
                json!({"messages": [user("hi")]}),
            ),
            r#"{"model_aliases": {"fast": "us.anthropic.claude-3-haiku-20240307-v1:0"}}"#,
        ),
        rejected(
            "a request left with no messages is a 400",
            json!({"model": HAIKU, "messages": [{"role": "system", "content": "only rules"}]}),
            "at least one",
        ),
    ]
}

fn config(extra: &str) -> Config {
    crate::test_support::open_config(extra)
}

fn translate(c: &Case) -> Result<ChatTranslation, ApiError> {
    let body = c.request.to_string();
    parse_chat_request(body.as_bytes())
        .and_then(|r| chat_to_converse(r, &config(c.config), &crate::api::same_model))
}

#[test]
fn every_rule_in_the_table() {
    let mut failures = Vec::new();
    for c in cases() {
        let result = translate(&c);
        match (&c.expect, result) {
            (Expect::Converse(want), Ok(t)) => {
                let got: Value = serde_json::from_slice(&t.body().unwrap()).unwrap();
                if &got != want {
                    failures.push(format!("{}\n  want {}\n  got  {}", c.rule, want, got));
                }
            }
            (Expect::Rejected(msg), Err(e)) => {
                if e.status != 400 || !e.message.contains(msg) {
                    failures.push(format!("{}\n  want 400 with {msg:?}, got {e:?}", c.rule));
                }
            }
            (Expect::Converse(_), Err(e)) => {
                failures.push(format!("{}\n  unexpected error {e:?}", c.rule))
            }
            (Expect::Rejected(msg), Ok(t)) => failures.push(format!(
                "{}\n  want 400 with {msg:?}, got {}",
                c.rule,
                String::from_utf8_lossy(&t.body().unwrap())
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} rule(s) broken:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn answer_tool_is_named_for_the_reply_and_paths_encode_profiles() {
    let c = &cases()
        .into_iter()
        .find(|c| c.rule.starts_with("json_schema elsewhere"))
        .unwrap();
    let t = translate(c).unwrap();
    assert_eq!(t.response_tool.as_deref(), Some("json_response"));
    assert_eq!(
        t.path(),
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    let aliased = cases()
        .into_iter()
        .find(|c| c.rule.starts_with("model aliases"))
        .unwrap();
    let t = translate(&aliased).unwrap();
    assert_eq!(t.model_id, "us.anthropic.claude-3-haiku-20240307-v1:0");
    assert_eq!(t.requested_model, "fast");
}

#[test]
fn type_errors_name_the_field_at_fault() {
    let body =
        json!({"model": HAIKU, "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1});
    let e = parse_chat_request(body.to_string().as_bytes()).unwrap_err();
    assert_eq!((e.status, e.param.as_deref()), (400, Some("max_tokens")));
    assert!(e.message.contains("'max_tokens'"), "{}", e.message);
}

#[test]
fn default_model_takes_gpt_names_and_a_missing_model_and_the_name_sent_is_echoed() {
    let sonnet = "us.anthropic.claude-sonnet-4-20250514-v1:0";
    let with_default = config(&format!(r#"{{"default_model": "{sonnet}"}}"#));
    let hello = json!([{"role": "user", "content": "hi"}]);
    let translate_with = |config: &Config, body: Value| {
        parse_chat_request(body.to_string().as_bytes())
            .and_then(|r| chat_to_converse(r, config, &crate::api::same_model))
    };
    let t = translate_with(&with_default, json!({"model": "GPT-4o", "messages": hello})).unwrap();
    assert_eq!(
        (t.model_id.as_str(), t.requested_model.as_str()),
        (sonnet, "GPT-4o")
    );
    assert_eq!(
        t.path(),
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
    for body in [
        json!({"messages": hello}),
        json!({"model": null, "messages": hello}),
    ] {
        let t = translate_with(&with_default, body).unwrap();
        assert_eq!(
            (t.model_id.as_str(), t.requested_model.as_str()),
            (sonnet, sonnet)
        );
    }
    // Without a default a missing model is a 400 naming it, as before.
    let e = translate_with(&config("{}"), json!({"messages": hello})).unwrap_err();
    assert_eq!((e.status, e.param.as_deref()), (400, Some("model")));
    assert!(
        e.message.contains("Missing required parameter: 'model'"),
        "{}",
        e.message
    );
    let e = translate_with(&config("{}"), json!({"model": 4, "messages": hello})).unwrap_err();
    assert_eq!((e.status, e.param.as_deref()), (400, Some("model")));
}
