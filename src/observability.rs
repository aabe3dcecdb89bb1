//! What one finished request contributes to Envoy stats and to filter state (for access logs
//! and rate limits). Pure: the shell turns the names and numbers into host calls.

use crate::bedrock::converse::Usage;
use std::collections::BTreeSet;

/// Stats names start with this; Envoy shows them as `wasmcustom.bedrock_access_filter.*`.
pub const PREFIX: &str = "bedrock_access_filter";
/// Distinct model names tracked per VM; later ones are counted as `other` so that clients
/// cannot grow the stats table without bound.
pub const MAX_MODELS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered by Bedrock with success.
    Success,
    /// Refused by the gateway itself (auth, bad input, unknown path): nothing went upstream.
    Rejected,
    /// Bedrock answered with an error status.
    UpstreamError,
    /// The stream started and then failed (exception frame, corrupt or cut-off stream).
    StreamError,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Rejected => "rejected",
            Outcome::UpstreamError => "upstream_error",
            Outcome::StreamError => "stream_error",
        }
    }
}

/// Everything worth recording about one request. Never holds secrets or message content.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub status: u16,
    pub outcome: Outcome,
    /// The Bedrock model id, once the request was translated.
    pub model: Option<String>,
    /// The client key's configured name (never the key).
    pub key_name: Option<String>,
    /// OpenAI-style error code of an upstream failure, e.g. `rate_limit_exceeded`.
    pub error_code: Option<String>,
    pub usage: Option<Usage>,
    pub stream: bool,
    /// The key name and model were set as filter state when the request was forwarded.
    pub request_state_set: bool,
    /// A `model_fallbacks` list sent the request to an entry after its first.
    pub fallback_used: bool,
    /// Bedrock throttled the model or found it unavailable, so it started cooling down.
    pub cooldown_started: bool,
}

/// Keeps `[A-Za-z0-9_-]` and folds everything else (dots, colons, slashes) to `_`, so a
/// model id stays one stats-name segment.
pub fn stat_segment(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

#[derive(Debug, Default)]
pub struct Recorder {
    models: BTreeSet<String>,
}

impl Recorder {
    fn model_label(&mut self, model: &str) -> String {
        let label = stat_segment(model);
        if self.models.contains(&label) || self.models.len() < MAX_MODELS {
            self.models.insert(label.clone());
            label
        } else {
            "other".to_string()
        }
    }

    /// Counter increments for one finished request.
    pub fn counters(&mut self, s: &Summary) -> Vec<(String, u64)> {
        let mut out = vec![
            (format!("{PREFIX}.requests"), 1),
            (format!("{PREFIX}.requests.{}", s.outcome.name()), 1),
        ];
        if s.stream {
            out.push((format!("{PREFIX}.streams"), 1));
        }
        if s.fallback_used {
            out.push((format!("{PREFIX}.fallback.used"), 1));
        }
        if s.cooldown_started {
            out.push((format!("{PREFIX}.fallback.cooldowns_started"), 1));
        }
        if let Some(code) = &s.error_code {
            out.push((
                format!("{PREFIX}.upstream_errors.{}", stat_segment(code)),
                1,
            ));
        }
        if let Some(key) = &s.key_name {
            out.push((format!("{PREFIX}.key.{}.requests", stat_segment(key)), 1));
        }
        // Per-model series only for models Bedrock accepted: arbitrary names never get a series.
        if let (Some(model), Outcome::Success | Outcome::StreamError) = (&s.model, s.outcome) {
            let m = format!("{PREFIX}.model.{}", self.model_label(model));
            out.push((format!("{m}.requests"), 1));
            out.push((format!("{m}.requests.{}", s.outcome.name()), 1));
            if let Some(u) = &s.usage {
                out.push((format!("{m}.input_tokens"), u.prompt_tokens()));
                out.push((format!("{m}.output_tokens"), u.output_tokens));
                out.push((
                    format!("{m}.cached_tokens"),
                    u.cache_read_input_tokens.unwrap_or(0),
                ));
                out.push((
                    format!("{m}.cache_write_tokens"),
                    u.cache_write_input_tokens.unwrap_or(0),
                ));
            }
        }
        out
    }
}

/// Values for Envoy filter state (`wasm.<name>`), readable by access logs as
/// `%FILTER_STATE(wasm.<name>:PLAIN)%` and by CEL-based rate-limit descriptors.
pub fn filter_state(s: &Summary) -> Vec<(&'static str, String)> {
    let mut out = vec![("bedrock_outcome", s.outcome.name().to_string())];
    if !s.request_state_set {
        out.extend(request_state(s.key_name.as_deref(), s.model.as_deref()));
    }
    if let Some(u) = &s.usage {
        out.push(("bedrock_input_tokens", u.prompt_tokens().to_string()));
        out.push(("bedrock_output_tokens", u.output_tokens.to_string()));
        out.push((
            "bedrock_cached_tokens",
            u.cache_read_input_tokens.unwrap_or(0).to_string(),
        ));
    }
    out
}

/// The filter state a request carries as it goes to Bedrock (the key's name and the model),
/// for rate-limit descriptors evaluated before the answer; `filter_state` adds the rest.
pub fn request_state(key_name: Option<&str>, model: Option<&str>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(model) = model {
        out.push(("bedrock_model", model.to_string()));
    }
    if let Some(key) = key_name {
        out.push(("bedrock_key_name", key.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn success(model: &str) -> Summary {
        Summary {
            status: 200,
            outcome: Outcome::Success,
            model: Some(model.into()),
            key_name: Some("team.a".into()),
            error_code: None,
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                total_tokens: 45,
                cache_read_input_tokens: Some(30),
                cache_write_input_tokens: None,
            }),
            stream: true,
            request_state_set: false,
            fallback_used: false,
            cooldown_started: false,
        }
    }

    fn value(counters: &[(String, u64)], name: &str) -> Option<u64> {
        counters.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    #[test]
    fn tokens_are_counted_per_model_with_safe_names() {
        let c = Recorder::default().counters(&success("us.anthropic.claude-3-haiku-20240307-v1:0"));
        let m = "bedrock_access_filter.model.us_anthropic_claude-3-haiku-20240307-v1_0";
        assert_eq!(value(&c, &format!("{m}.input_tokens")), Some(40));
        assert_eq!(value(&c, &format!("{m}.output_tokens")), Some(5));
        assert_eq!(value(&c, &format!("{m}.cached_tokens")), Some(30));
        assert_eq!(
            value(&c, "bedrock_access_filter.key.team_a.requests"),
            Some(1)
        );
        assert_eq!(value(&c, "bedrock_access_filter.requests.success"), Some(1));
    }

    #[test]
    fn rejected_requests_never_create_model_series() {
        let mut s = success("attacker-chosen-name");
        s.outcome = Outcome::Rejected;
        let c = Recorder::default().counters(&s);
        assert!(c.iter().all(|(n, _)| !n.contains("attacker")), "{c:?}");
    }

    #[test]
    fn model_series_are_capped() {
        let mut r = Recorder::default();
        for i in 0..MAX_MODELS {
            r.counters(&success(&format!("m{i}")));
        }
        let c = r.counters(&success("one-too-many"));
        assert!(value(&c, "bedrock_access_filter.model.other.requests").is_some());
        let c = r.counters(&success("m0"));
        assert!(value(&c, "bedrock_access_filter.model.m0.requests").is_some());
    }

    #[test]
    fn filter_state_has_model_and_tokens() {
        let state = filter_state(&success("m"));
        assert!(state.contains(&("bedrock_model", "m".to_string())));
        assert!(state.contains(&("bedrock_input_tokens", "40".to_string())));
    }
}
