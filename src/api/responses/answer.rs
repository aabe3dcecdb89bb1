//! Bedrock Converse response → a complete Responses API `response` object.

use crate::api::responses::output::{
    call_item, final_status, item_prefix, message_item, reasoning_item, seal, ResponseMeta,
};
use crate::bedrock::converse::{ConverseResponse, ReasoningBlock, ReasoningText};
use crate::error::ApiError;
use crate::policy::guardrail;
use serde_json::Value;

pub fn converse_to_response(body: &[u8], meta: &ResponseMeta) -> Result<Value, ApiError> {
    let response: ConverseResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_gateway(format!("Bedrock answered with an unexpected body: {e}"))
    })?;
    let mut output: Vec<Value> = Vec::new();
    // Consecutive text blocks form one message item.
    let mut text: Option<String> = None;
    for block in &response.output.message.content {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.get_or_insert_with(String::new).push_str(t);
            continue;
        }
        if let Some(input) = answer_input(block, meta) {
            // The forced `text.format` answer tool: its input is the JSON the client asked for.
            text.get_or_insert_with(String::new).push_str(&input);
            continue;
        }
        if let Some(t) = text.take() {
            output.push(message_item(
                &meta.item_id("msg", output.len()),
                &t,
                "completed",
            ));
        }
        if let Some(tool) = block.get("toolUse") {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            let call_id = tool.get("toolUseId").and_then(Value::as_str).unwrap_or("");
            let input = tool.get("input").map(Value::to_string).unwrap_or_default();
            let target = meta.tools.target(name);
            output.push(call_item(
                &meta.item_id(item_prefix(target.kind), output.len()),
                call_id,
                &target,
                &input,
                "completed",
            ));
        } else if let Some(r) = block.get("reasoningContent") {
            let (text, block) = if let Some(rt) = r.get("reasoningText") {
                let text = rt.get("text").and_then(Value::as_str).unwrap_or("");
                let signature = rt.get("signature").and_then(Value::as_str);
                (
                    text,
                    ReasoningBlock::ReasoningText(ReasoningText {
                        text: text.to_string(),
                        signature: signature.map(str::to_string),
                    }),
                )
            } else if let Some(data) = r.get("redactedContent").and_then(Value::as_str) {
                ("", ReasoningBlock::RedactedContent(data.to_string()))
            } else {
                continue;
            };
            let id = meta.item_id("rs", output.len());
            output.push(reasoning_item(&id, text, seal(&block).as_deref()));
        }
    }
    if let Some(t) = text.take() {
        output.push(message_item(
            &meta.item_id("msg", output.len()),
            &t,
            "completed",
        ));
    }
    let mut answer = meta.response(
        final_status(&response.stop_reason),
        &output,
        Some(&response.usage),
        Some(&response.stop_reason),
        None,
    );
    guardrail::attach_trace(&mut answer, response.trace.as_ref());
    Ok(answer)
}

/// The input of a call to the `text.format` answer tool, as JSON text.
fn answer_input(block: &Value, meta: &ResponseMeta) -> Option<String> {
    let tool = block.get("toolUse")?;
    let name = tool.get("name").and_then(Value::as_str)?;
    if meta.response_tool.as_deref() != Some(name) {
        return None;
    }
    Some(
        tool.get("input")
            .map(Value::to_string)
            .unwrap_or_else(|| "{}".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::output::unseal;
    use crate::api::responses::tools::Offered;
    use crate::bedrock::converse::ReasoningBlock;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn meta() -> ResponseMeta {
        let mut offered = Offered::default();
        offered
            .add_all(
                json!([
                    {"type": "function", "name": "exec_command"},
                    {"type": "custom", "name": "apply_patch"},
                    {"type": "namespace", "name": "multi_agent_v1", "tools": [{"type": "function", "name": "spawn_agent"}]},
                    {"type": "tool_search", "execution": "client"},
                ])
                .as_array()
                .unwrap(),
                "tools",
            )
            .unwrap();
        ResponseMeta {
            id: "resp_abc".into(),
            model: "gpt-5.5".into(),
            created_at: 7,
            tools: offered.names,
            response_tool: None,
            echo: serde_json::Map::new(),
        }
    }

    fn answer(content: Value, stop: &str) -> Value {
        let body = json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 115,
                      "cacheReadInputTokens": 80, "cacheWriteInputTokens": 20}
        });
        converse_to_response(body.to_string().as_bytes(), &meta()).unwrap()
    }

    #[test]
    fn each_block_kind_becomes_its_output_item() {
        // (case, Bedrock content, expected output items)
        let cases = vec![
            (
                "text blocks form one message",
                json!([{"text": "Hel"}, {"text": "lo"}]),
                json!([{"type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}]}]),
            ),
            (
                "function call",
                json!([{"toolUse": {"toolUseId": "t1", "name": "exec_command", "input": {"cmd": "ls"}}}]),
                json!([{"type": "function_call", "id": "fc_abc_0", "call_id": "t1", "name": "exec_command",
                        "arguments": "{\"cmd\":\"ls\"}", "status": "completed"}]),
            ),
            (
                "freeform call gets its raw input back",
                json!([{"toolUse": {"toolUseId": "t2", "name": "apply_patch", "input": {"input": "*** Begin Patch\n"}}}]),
                json!([{"type": "custom_tool_call", "id": "ctc_abc_0", "call_id": "t2", "name": "apply_patch",
                        "input": "*** Begin Patch\n", "status": "completed"}]),
            ),
            (
                "namespaced call",
                json!([{"toolUse": {"toolUseId": "t3", "name": "multi_agent_v1__spawn_agent", "input": {}}}]),
                json!([{"type": "function_call", "id": "fc_abc_0", "call_id": "t3", "name": "spawn_agent",
                        "namespace": "multi_agent_v1", "arguments": "{}", "status": "completed"}]),
            ),
            (
                "tool search",
                json!([{"toolUse": {"toolUseId": "t4", "name": "tool_search", "input": {"query": "cal"}}}]),
                json!([{"type": "tool_search_call", "id": "tsc_abc_0", "call_id": "t4", "execution": "client",
                        "arguments": {"query": "cal"}, "status": "completed"}]),
            ),
            (
                "text, then a call, then text",
                json!([{"text": "a"}, {"toolUse": {"toolUseId": "t1", "name": "exec_command", "input": {}}}, {"text": "b"}]),
                json!([
                    {"type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": "a", "annotations": [], "logprobs": []}]},
                    {"type": "function_call", "id": "fc_abc_1", "call_id": "t1", "name": "exec_command",
                     "arguments": "{}", "status": "completed"},
                    {"type": "message", "id": "msg_abc_2", "status": "completed", "role": "assistant",
                     "content": [{"type": "output_text", "text": "b", "annotations": [], "logprobs": []}]},
                ]),
            ),
        ];
        for (case, content, expected) in cases {
            assert_eq!(answer(content, "end_turn")["output"], expected, "{case}");
        }
    }

    #[test]
    fn text_format_answer_tool_becomes_output_text() {
        let mut answering = meta();
        answering.response_tool = Some("json_response".into());
        let body = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "t9", "name": "json_response", "input": {"age": 42}}}]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
        });
        let out = converse_to_response(body.to_string().as_bytes(), &answering).unwrap();
        assert_eq!(out["status"], "completed");
        assert_eq!(
            out["output"],
            json!([{"type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "{\"age\":42}", "annotations": [], "logprobs": []}]}])
        );
        // Without the answer tool in play, a tool of that name is an ordinary call.
        let plain = converse_to_response(body.to_string().as_bytes(), &meta()).unwrap();
        assert_eq!(plain["output"][0]["type"], "function_call");
    }

    #[test]
    fn reasoning_is_summarised_and_sealed_for_the_next_turn() {
        let out = answer(
            json!([
                {"reasoningContent": {"reasoningText": {"text": "Think", "signature": "sig"}}},
                {"reasoningContent": {"redactedContent": "ZW5j"}},
                {"text": "Answer"}
            ]),
            "end_turn",
        );
        let first = &out["output"][0];
        assert_eq!(first["type"], "reasoning");
        assert_eq!(
            first["summary"],
            json!([{"type": "summary_text", "text": "Think"}])
        );
        let block = unseal(first["encrypted_content"].as_str().unwrap()).unwrap();
        assert_eq!(
            block,
            ReasoningBlock::ReasoningText(ReasoningText {
                text: "Think".into(),
                signature: Some("sig".into())
            })
        );
        let second = &out["output"][1];
        assert_eq!(second["summary"], json!([]));
        assert_eq!(
            unseal(second["encrypted_content"].as_str().unwrap()),
            Some(ReasoningBlock::RedactedContent("ZW5j".into()))
        );
        assert_eq!(out["output"][2]["content"][0]["text"], "Answer");
    }

    #[test]
    fn envelope_usage_and_status() {
        let out = answer(json!([{"text": "x"}]), "end_turn");
        assert_eq!(out["id"], "resp_abc");
        assert_eq!(out["object"], "response");
        assert_eq!(out["status"], "completed");
        assert_eq!(out["model"], "gpt-5.5");
        assert_eq!(out["incomplete_details"], Value::Null);
        assert_eq!(out["usage"]["input_tokens"], 110);
        assert_eq!(out["usage"]["input_tokens_details"]["cached_tokens"], 80);
        assert_eq!(out["usage"]["output_tokens"], 5);
        assert_eq!(out["usage"]["total_tokens"], 115);
        let cut = answer(json!([{"text": "x"}]), "max_tokens");
        assert_eq!(cut["status"], "incomplete");
        assert_eq!(cut["incomplete_details"]["reason"], "max_output_tokens");
        let e = converse_to_response(b"{}", &meta()).unwrap_err();
        assert_eq!(e.status, 502);
    }
}
