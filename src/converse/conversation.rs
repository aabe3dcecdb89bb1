//! Builds a Converse conversation that Bedrock accepts from turns in any order: the one
//! message-normalisation path shared by Chat Completions and the Responses API.
//!
//! Bedrock's rules, and what we do about them:
//! - no blank text, no empty content: blank blocks and empty turns are dropped (Bedrock 400s);
//! - roles alternate and start with `user`: consecutive turns of one role are merged, and a
//!   conversation that opens with the assistant gets a placeholder user turn first;
//! - every toolUse is answered by a toolResult in the next user turn, and every toolResult
//!   answers a toolUse of the turn before: missing results are filled with an error result,
//!   stray results become text;
//! - toolUse/toolResult need a `toolConfig`: when no tools are offered, the tool history is
//!   rendered as text so the request still succeeds.

use crate::bedrock::converse::{
    ContentBlock, Message, Role, SystemBlock, ToolResultBlock, ToolResultContent, ToolUseBlock,
};
use std::collections::BTreeSet;

/// Text of the user turn inserted when a conversation opens with the assistant.
pub const OPENING_PLACEHOLDER: &str = "(conversation start)";
/// Result given to a tool call the client never answered.
pub const MISSING_RESULT: &str = "No result was provided for this tool call.";

#[derive(Debug, Default)]
pub struct Conversation {
    pub system: Vec<SystemBlock>,
    turns: Vec<Message>,
}

pub fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

impl Conversation {
    pub fn push_system(&mut self, text: &str) {
        if !is_blank(text) {
            self.system.push(SystemBlock::Text(text.to_string()));
        }
    }

    /// A prompt-cache point after the system prompt so far (a client's cache marker).
    pub fn push_system_cache_point(&mut self) {
        if matches!(self.system.last(), Some(SystemBlock::Text(_))) {
            self.system.push(SystemBlock::CachePoint(
                crate::bedrock::converse::CachePoint::default_point(),
            ));
        }
    }

    /// Adds blocks for `role`, merged into the previous turn when the role repeats.
    pub fn push(&mut self, role: Role, blocks: Vec<ContentBlock>) {
        let blocks: Vec<ContentBlock> = blocks.into_iter().filter(|b| !is_empty_block(b)).collect();
        if blocks.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.turns.push(Message {
                role,
                content: blocks,
            }),
        }
    }

    /// True when any turn holds a toolUse or toolResult block.
    pub fn has_tool_history(&self) -> bool {
        self.turns
            .iter()
            .flat_map(|m| &m.content)
            .any(|b| matches!(b, ContentBlock::ToolUse(_) | ContentBlock::ToolResult(_)))
    }

    /// Tool names used in the history, for synthesising definitions.
    pub fn tool_names_used(&self) -> BTreeSet<String> {
        self.turns
            .iter()
            .flat_map(|m| &m.content)
            .filter_map(|b| match b {
                ContentBlock::ToolUse(t) => Some(t.name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The finished message list. `tools_offered` says whether a toolConfig will be sent.
    pub fn into_messages(self, tools_offered: bool) -> Vec<Message> {
        let mut turns = self.turns;
        if !tools_offered {
            turns = turns.into_iter().map(render_tools_as_text).collect();
        } else {
            pair_tool_calls_with_results(&mut turns);
        }
        let mut merged: Vec<Message> = Vec::with_capacity(turns.len());
        for turn in turns {
            match merged.last_mut() {
                Some(last) if last.role == turn.role => last.content.extend(turn.content),
                _ => merged.push(turn),
            }
        }
        for turn in &mut merged {
            order_tool_results_first(turn);
        }
        if merged.first().is_some_and(|m| m.role == Role::Assistant) {
            merged.insert(
                0,
                Message {
                    role: Role::User,
                    content: vec![ContentBlock::Text(OPENING_PLACEHOLDER.into())],
                },
            );
        }
        merged
    }
}

fn is_empty_block(block: &ContentBlock) -> bool {
    match block {
        ContentBlock::Text(t) => is_blank(t),
        _ => false,
    }
}

/// Claude wants the toolResult blocks of a turn before any other content.
fn order_tool_results_first(turn: &mut Message) {
    if turn.role == Role::User {
        turn.content
            .sort_by_key(|b| !matches!(b, ContentBlock::ToolResult(_)));
    } else {
        // Reasoning must lead an assistant turn, and tool calls follow the text.
        turn.content.sort_by_key(|b| match b {
            ContentBlock::ReasoningContent(_) => 0,
            ContentBlock::ToolUse(_) => 2,
            _ => 1,
        });
    }
}

fn pair_tool_calls_with_results(turns: &mut Vec<Message>) {
    let mut i = 0;
    while i < turns.len() {
        let asked: Vec<String> = match turns.get(i) {
            Some(m) if m.role == Role::Assistant => m
                .content
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::ToolUse(t) => Some(t.tool_use_id.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let next_is_user = turns
            .get(i.saturating_add(1))
            .is_some_and(|m| m.role == Role::User);
        if !asked.is_empty() && !next_is_user {
            turns.insert(
                i.saturating_add(1),
                Message {
                    role: Role::User,
                    content: Vec::new(),
                },
            );
        }
        if let Some(next) = turns
            .get_mut(i.saturating_add(1))
            .filter(|m| m.role == Role::User)
        {
            answer_missing_and_demote_stray(next, &asked);
        }
        // A user turn at the very start cannot hold results for anything.
        if i == 0 {
            if let Some(first) = turns.get_mut(0).filter(|m| m.role == Role::User) {
                answer_missing_and_demote_stray(first, &[]);
            }
        }
        i = i.saturating_add(1);
    }
}

fn answer_missing_and_demote_stray(turn: &mut Message, asked: &[String]) {
    let blocks = std::mem::take(&mut turn.content);
    let mut answered = BTreeSet::new();
    for block in blocks {
        match block {
            ContentBlock::ToolResult(r) if asked.contains(&r.tool_use_id) => {
                if answered.insert(r.tool_use_id.clone()) {
                    turn.content.push(ContentBlock::ToolResult(r));
                }
            }
            ContentBlock::ToolResult(r) => {
                turn.content.push(ContentBlock::Text(result_as_text(&r)))
            }
            other => turn.content.push(other),
        }
    }
    for id in asked.iter().filter(|id| !answered.contains(*id)) {
        turn.content.push(ContentBlock::ToolResult(ToolResultBlock {
            tool_use_id: id.clone(),
            content: vec![ToolResultContent::Text(MISSING_RESULT.into())],
            status: Some("error".into()),
        }));
    }
}

fn render_tools_as_text(mut turn: Message) -> Message {
    turn.content = turn
        .content
        .into_iter()
        .map(|block| match block {
            ContentBlock::ToolUse(t) => ContentBlock::Text(call_as_text(&t)),
            ContentBlock::ToolResult(r) => ContentBlock::Text(result_as_text(&r)),
            other => other,
        })
        .collect();
    turn
}

fn call_as_text(call: &ToolUseBlock) -> String {
    format!(
        "[Called tool {} (id {}) with arguments: {}]",
        call.name, call.tool_use_id, call.input
    )
}

fn result_as_text(result: &ToolResultBlock) -> String {
    let parts: Vec<String> = result
        .content
        .iter()
        .map(|c| match c {
            ToolResultContent::Text(t) => t.clone(),
            ToolResultContent::Json(v) => v.to_string(),
            ToolResultContent::Image(_) => "(image)".to_string(),
        })
        .collect();
    format!(
        "[Result of tool call {}: {}]",
        result.tool_use_id,
        parts.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn text(t: &str) -> ContentBlock {
        ContentBlock::Text(t.into())
    }
    fn call(id: &str) -> ContentBlock {
        ContentBlock::ToolUse(ToolUseBlock {
            tool_use_id: id.into(),
            name: "f".into(),
            input: json!({}),
        })
    }
    fn result(id: &str) -> ContentBlock {
        ContentBlock::ToolResult(ToolResultBlock {
            tool_use_id: id.into(),
            content: vec![ToolResultContent::Text("ok".into())],
            status: None,
        })
    }
    fn roles(messages: &[Message]) -> Vec<Role> {
        messages.iter().map(|m| m.role.clone()).collect()
    }

    #[test]
    fn blank_text_and_empty_turns_are_dropped_and_roles_merge() {
        let mut c = Conversation::default();
        c.push_system("  ");
        c.push(Role::User, vec![text("a"), text(" ")]);
        c.push(Role::Assistant, vec![text("")]);
        c.push(Role::User, vec![text("b")]);
        let m = c.into_messages(false);
        assert!(c_system_is_empty());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].content, vec![text("a"), text("b")]);
    }

    fn c_system_is_empty() -> bool {
        let mut c = Conversation::default();
        c.push_system("\n");
        c.system.is_empty()
    }

    #[test]
    fn conversation_opening_with_assistant_gets_user_placeholder() {
        let mut c = Conversation::default();
        c.push(Role::Assistant, vec![text("hi")]);
        c.push(Role::User, vec![text("q")]);
        assert_eq!(
            roles(&c.into_messages(false)),
            vec![Role::User, Role::Assistant, Role::User]
        );
    }

    #[test]
    fn unanswered_calls_get_error_results_and_stray_results_become_text() {
        let mut c = Conversation::default();
        c.push(Role::User, vec![text("q"), result("zz")]);
        c.push(Role::Assistant, vec![call("a"), call("b")]);
        c.push(Role::User, vec![result("a"), text("next")]);
        let m = c.into_messages(true);
        assert!(matches!(&m[0].content[1], ContentBlock::Text(t) if t.contains("zz")));
        let ids: Vec<&str> = m[2]
            .content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolResult(r) => Some(r.tool_use_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, vec!["a", "b"]);
        assert!(
            matches!(&m[2].content[2], ContentBlock::Text(_)),
            "results come first"
        );
    }

    #[test]
    fn trailing_tool_call_gets_a_result_turn() {
        let mut c = Conversation::default();
        c.push(Role::User, vec![text("q")]);
        c.push(Role::Assistant, vec![call("a")]);
        let m = c.into_messages(true);
        assert_eq!(roles(&m), vec![Role::User, Role::Assistant, Role::User]);
    }

    #[test]
    fn without_tools_history_is_text() {
        let mut c = Conversation::default();
        c.push(Role::User, vec![text("q")]);
        c.push(Role::Assistant, vec![call("a")]);
        c.push(Role::User, vec![result("a")]);
        let m = c.into_messages(false);
        assert!(m
            .iter()
            .flat_map(|m| &m.content)
            .all(|b| matches!(b, ContentBlock::Text(_))));
        assert_eq!(m.len(), 3);
    }
}
