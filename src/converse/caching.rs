//! Prompt caching: where cache points go (config default, per-request override) and putting
//! them into the Converse request.

use crate::bedrock::converse::{CachePoint, ContentBlock, Message, Role, SystemBlock};
use crate::config::Config;
use serde_json::Value;

/// Where prompt cache points go.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheTargets {
    pub system: bool,
    pub messages: bool,
}

/// Config default, overridden per request by `prompt_caching`: a bool, or BAG's
/// `{"system": bool, "messages": bool}` (a missing key keeps the default).
pub fn prompt_caching_targets(config: &Config, requested: Option<&Value>) -> CacheTargets {
    let default = config.prompt_caching;
    match requested {
        Some(Value::Bool(b)) => CacheTargets {
            system: *b,
            messages: *b,
        },
        Some(Value::Object(o)) => CacheTargets {
            system: o.get("system").and_then(Value::as_bool).unwrap_or(default),
            messages: o
                .get("messages")
                .and_then(Value::as_bool)
                .unwrap_or(default),
        },
        _ => CacheTargets {
            system: default,
            messages: default,
        },
    }
}

/// A cache point after the system prompt and after the last user turn.
pub fn insert_cache_points(
    targets: CacheTargets,
    system: &mut Vec<SystemBlock>,
    messages: &mut [Message],
) {
    if targets.system && !system.is_empty() {
        system.push(SystemBlock::CachePoint(CachePoint::default_point()));
    }
    if targets.messages {
        if let Some(last_user) = messages.iter_mut().rev().find(|m| m.role == Role::User) {
            last_user
                .content
                .push(ContentBlock::CachePoint(CachePoint::default_point()));
        }
    }
}
