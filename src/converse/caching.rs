//! Prompt caching: where cache points go (config default, per-request override) and putting
//! them into the Converse request.

use crate::bedrock::converse::{CachePoint, ContentBlock, Message, Role, SystemBlock, Tool};
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

/// Bedrock's limit on cache checkpoints in one request.
const MAX_CACHE_POINTS: usize = 4;

/// Cache points as Bedrock takes them for `model_id`: none for a model without prompt caching
/// (clients' markers included), else the clients' markers plus the configured ones, never two
/// in a row or opening a turn, and at most four (the latest kept: they cover the most).
pub fn settle_cache_points(
    model_id: &str,
    targets: CacheTargets,
    system: &mut Vec<SystemBlock>,
    tools: Option<&mut Vec<Tool>>,
    messages: &mut [Message],
) {
    let mut no_tools = Vec::new();
    let tools = tools.unwrap_or(&mut no_tools);
    let caches = crate::capabilities::supports_prompt_caching(model_id)
        || crate::capabilities::is_arn(model_id);
    if caches {
        insert_cache_points(targets, system, messages);
    }
    let is_point = |b: &ContentBlock| matches!(b, ContentBlock::CachePoint(_));
    for message in messages.iter_mut() {
        let mut kept: Vec<ContentBlock> = Vec::with_capacity(message.content.len());
        for block in std::mem::take(&mut message.content) {
            let stray = is_point(&block) && (!caches || kept.last().is_none_or(is_point));
            if !stray {
                kept.push(block);
            }
        }
        message.content = kept;
    }
    if !caches {
        system.retain(|b| !matches!(b, SystemBlock::CachePoint(_)));
        tools.retain(|t| !matches!(t, Tool::CachePoint(_)));
        return;
    }
    // Over the limit: drop the earliest points (system first, then turns in order).
    let in_messages: usize = messages
        .iter()
        .map(|m| m.content.iter().filter(|b| is_point(b)).count())
        .sum();
    let in_system = system
        .iter()
        .filter(|b| matches!(b, SystemBlock::CachePoint(_)))
        .count();
    let in_tools = tools
        .iter()
        .filter(|t| matches!(t, Tool::CachePoint(_)))
        .count();
    let mut excess = in_system
        .saturating_add(in_tools)
        .saturating_add(in_messages)
        .saturating_sub(MAX_CACHE_POINTS);
    system.retain(|b| {
        let drop = excess > 0 && matches!(b, SystemBlock::CachePoint(_));
        if drop {
            excess = excess.saturating_sub(1);
        }
        !drop
    });
    tools.retain(|t| {
        let drop = excess > 0 && matches!(t, Tool::CachePoint(_));
        if drop {
            excess = excess.saturating_sub(1);
        }
        !drop
    });
    for message in messages.iter_mut() {
        message.content.retain(|b| {
            let drop = excess > 0 && is_point(b);
            if drop {
                excess = excess.saturating_sub(1);
            }
            !drop
        });
    }
}

/// A cache point after the system prompt and after the last user turn.
fn insert_cache_points(
    targets: CacheTargets,
    system: &mut Vec<SystemBlock>,
    messages: &mut [Message],
) {
    if targets.system && matches!(system.last(), Some(SystemBlock::Text(_))) {
        system.push(SystemBlock::CachePoint(CachePoint::default_point()));
    }
    if targets.messages {
        if let Some(last_user) = messages.iter_mut().rev().find(|m| m.role == Role::User) {
            if !matches!(last_user.content.last(), Some(ContentBlock::CachePoint(_))) {
                last_user
                    .content
                    .push(ContentBlock::CachePoint(CachePoint::default_point()));
            }
        }
    }
}
