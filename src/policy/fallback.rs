//! Model fallbacks: a requested name (alias or model id) maps to an ordered list of Bedrock
//! models. A model that Bedrock throttles or reports unavailable cools down for a while, in
//! one shared-data slot per model id holding the second it is healthy again (every worker
//! sees it); requests for the name go to the first entry not cooling down, or to the first
//! entry when all are. The choice is made before translation, so the request is built and
//! signed for the model that gets it.

use super::SharedStore;
use crate::bedrock::model_id::validate_model_id;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

pub const DEFAULT_COOLDOWN_SECONDS: u64 = 30;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fallbacks {
    /// Requested name → Bedrock model ids in order (aliases resolved at load).
    lists: BTreeMap<String, Vec<String>>,
    pub cooldown_seconds: u64,
}

/// The model a request goes to under a fallback list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub model_id: String,
    /// 0 for the list's first entry; more means a fallback was used.
    pub position: usize,
}

impl Fallbacks {
    /// Reads `model_fallbacks` (a JSON object of non-empty lists of model ids or aliases) and
    /// `fallback_cooldown_seconds`; errors name the field.
    pub fn load(
        raw: Option<Value>,
        cooldown_seconds: Option<u64>,
        aliases: &BTreeMap<String, String>,
    ) -> Result<Fallbacks, String> {
        let cooldown_seconds = cooldown_seconds.unwrap_or(DEFAULT_COOLDOWN_SECONDS);
        if cooldown_seconds == 0 {
            return Err("fallback_cooldown_seconds: must be greater than 0".into());
        }
        let object = match raw {
            None | Some(Value::Null) => {
                return Ok(Fallbacks {
                    lists: BTreeMap::new(),
                    cooldown_seconds,
                })
            }
            Some(Value::Object(o)) => o,
            Some(_) => {
                return Err(
                    "model_fallbacks: expected an object of model name → list of model ids".into(),
                )
            }
        };
        let mut lists = BTreeMap::new();
        for (name, entries) in object {
            let Value::Array(entries) = entries else {
                return Err(format!(
                    "model_fallbacks.{name}: expected a list of model ids or aliases"
                ));
            };
            if name.is_empty() || entries.is_empty() {
                return Err(format!(
                    "model_fallbacks.{name}: expected a non-empty name and a non-empty list"
                ));
            }
            let mut ids = Vec::with_capacity(entries.len());
            for entry in entries {
                let Value::String(entry) = entry else {
                    return Err(format!(
                        "model_fallbacks.{name}: entries must be model ids or aliases (strings)"
                    ));
                };
                let id = aliases.get(&entry).cloned().unwrap_or(entry);
                validate_model_id(&id)
                    .map_err(|e| format!("model_fallbacks.{name}: {}", e.message))?;
                ids.push(id);
            }
            lists.insert(name, ids);
        }
        Ok(Fallbacks {
            lists,
            cooldown_seconds,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The list for a request: by the name the client sent, else by the model it resolves to.
    pub fn list_for(&self, requested: Option<&str>, resolved: Option<&str>) -> Option<&[String]> {
        requested
            .and_then(|name| self.lists.get(name))
            .or_else(|| resolved.and_then(|id| self.lists.get(id)))
            .map(Vec::as_slice)
    }

    /// Whether `model_id` is an entry of some list (only those models cool down).
    pub fn covers(&self, model_id: &str) -> bool {
        self.lists.values().flatten().any(|m| m == model_id)
    }

    /// A model answered with throttling or unavailability: healthy again after the cool-down.
    pub fn start_cooldown(&self, store: &dyn SharedStore, model_id: &str, now: SystemTime) {
        let until = seconds(now).saturating_add(self.cooldown_seconds);
        // Last writer wins on purpose: concurrent failures write times a moment apart, and
        // either one is right, so no compare-and-swap is needed.
        store.set(&slot(model_id), until.to_string().as_bytes(), 0);
    }
}

/// The first entry of `list` that `usable` admits and is not cooling down; when every usable
/// entry cools down, the first usable one (a request then fails as it would without a list).
pub fn choose(
    list: &[String],
    store: &dyn SharedStore,
    now: SystemTime,
    usable: &dyn Fn(&str) -> bool,
) -> Option<Choice> {
    let now = seconds(now);
    let mut candidates = list
        .iter()
        .enumerate()
        .filter(|(_, m)| usable(m))
        .peekable();
    let (first_position, first) = *candidates.peek()?;
    let healthy = candidates.find(|(_, m)| healthy_at(store, m) <= now);
    let (position, model_id) = healthy.unwrap_or((first_position, first));
    Some(Choice {
        model_id: model_id.clone(),
        position,
    })
}

/// Bedrock answers that mean "this model, now, cannot serve you" rather than "your request is
/// wrong": throttling (429 `ThrottlingException`, also seen as a 400), the account's quota for
/// the model spent (`ServiceQuotaExceededException`: quotas are per model and region, so
/// another entry still has room), and the model or service unavailable (503
/// `ServiceUnavailableException`, `ModelNotReadyException`). A 429 without an error type
/// (a proxy in front of Bedrock) counts as throttling; a 503 without one is Envoy's own (no
/// connection), which no other model would cure.
pub fn cools_down(status: u16, error_type: Option<&str>) -> bool {
    // `x-amzn-ErrorType` may carry a `:<url>` suffix.
    let kind = error_type
        .map(|t| t.split(':').next().unwrap_or(t))
        .unwrap_or("");
    matches!(
        kind,
        "ThrottlingException"
            | "ServiceQuotaExceededException"
            | "ServiceUnavailableException"
            | "ModelNotReadyException"
    ) || (kind.is_empty() && status == 429)
}

fn healthy_at(store: &dyn SharedStore, model_id: &str) -> u64 {
    store
        .get(&slot(model_id))
        .and_then(|(bytes, _)| String::from_utf8(bytes).ok()?.parse().ok())
        .unwrap_or(0)
}

fn slot(model_id: &str) -> String {
    format!("bedrock_fallback/{model_id}")
}

fn seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::quota::test_store::MapStore;
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const US: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    const GLOBAL: &str = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";
    const NOVA: &str = "us.amazon.nova-pro-v1:0";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn claude() -> Fallbacks {
        let aliases = BTreeMap::from([("nova".to_string(), NOVA.to_string())]);
        Fallbacks::load(
            Some(json!({"claude": [US, GLOBAL, "nova"]})),
            Some(30),
            &aliases,
        )
        .unwrap()
    }

    #[test]
    fn the_next_entry_serves_while_a_model_cools_down_and_the_first_after() {
        let f = claude();
        let list = f.list_for(Some("claude"), Some("claude")).unwrap();
        assert_eq!(list, [US, GLOBAL, NOVA]);
        let store = MapStore::default();
        let all = |_: &str| true;
        let pick = |t| choose(list, &store, at(t), &all).unwrap();
        assert_eq!(
            pick(0),
            Choice {
                model_id: US.into(),
                position: 0
            }
        );
        f.start_cooldown(&store, US, at(0));
        assert_eq!(pick(1).model_id, GLOBAL);
        f.start_cooldown(&store, GLOBAL, at(1));
        assert_eq!(
            pick(2),
            Choice {
                model_id: NOVA.into(),
                position: 2
            }
        );
        f.start_cooldown(&store, NOVA, at(2));
        // Everything cools down: the first entry.
        assert_eq!(pick(3).position, 0);
        // US is healthy again at 30 s, before the others.
        assert_eq!(pick(29).position, 0);
        assert_eq!(pick(30).model_id, US);
        // Entries the key may not use are skipped.
        let no_us = |m: &str| m != US;
        assert_eq!(
            choose(list, &store, at(40), &no_us).unwrap().model_id,
            GLOBAL
        );
        assert_eq!(choose(list, &store, at(0), &|_: &str| false), None);
    }

    #[test]
    fn lists_apply_by_requested_name_or_resolved_id() {
        let f = Fallbacks::load(Some(json!({US: [US, NOVA]})), None, &BTreeMap::new()).unwrap();
        assert_eq!(f.cooldown_seconds, DEFAULT_COOLDOWN_SECONDS);
        assert!(f.list_for(Some("sonnet"), Some(US)).is_some());
        assert!(f.list_for(Some(NOVA), Some(NOVA)).is_none());
        assert!(f.covers(NOVA) && !f.covers(GLOBAL));
    }

    #[test]
    fn throttling_and_unavailability_cool_a_model_down_request_errors_do_not() {
        for (status, kind) in [
            (429, Some("ThrottlingException")),
            (
                400,
                Some("ThrottlingException:http://internal.amazon.com/coral/"),
            ),
            (400, Some("ServiceQuotaExceededException")),
            (503, Some("ServiceUnavailableException")),
            (429, Some("ModelNotReadyException")),
            (429, None),
        ] {
            assert!(cools_down(status, kind), "{status} {kind:?}");
        }
        for (status, kind) in [
            (400, Some("ValidationException")),
            (403, Some("AccessDeniedException")),
            (500, Some("InternalServerException")),
            (408, Some("ModelTimeoutException")),
            (500, None),
            (503, None),
        ] {
            assert!(!cools_down(status, kind), "{status} {kind:?}");
        }
    }

    #[test]
    fn bad_configuration_names_the_field() {
        let none = BTreeMap::new();
        for (raw, cooldown, field) in [
            (json!({"claude": []}), None, "model_fallbacks.claude"),
            (json!({"claude": US}), None, "model_fallbacks.claude"),
            (json!({"claude": [1]}), None, "model_fallbacks.claude"),
            (
                json!({"claude": ["bad model"]}),
                None,
                "model_fallbacks.claude",
            ),
            (json!([US]), None, "model_fallbacks"),
            (
                json!({"claude": [US]}),
                Some(0),
                "fallback_cooldown_seconds",
            ),
        ] {
            let err = Fallbacks::load(Some(raw), cooldown, &none).unwrap_err();
            assert!(err.starts_with(field), "{err}");
        }
        assert!(Fallbacks::load(None, None, &none).unwrap().is_empty());
    }
}
