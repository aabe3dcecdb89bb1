//! Bedrock Guardrails on Converse: the operator's guardrail (for all keys or one key) and, where
//! the key's guardrail allows it, the client's own `guardrailConfig`, settled into the one
//! `guardrailConfig` a Converse or ConverseStream request carries.

use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One guardrail setting: the operator's (global or for a key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guardrail {
    /// Guardrail id or ARN; `None` applies no guardrail unless the client names one.
    pub identifier: Option<String>,
    /// `DRAFT` or a version number.
    pub version: Option<String>,
    /// `enabled`, `disabled` or `enabled_full`; `None` leaves Bedrock's default (disabled).
    pub trace: Option<String>,
    /// ConverseStream only: `sync` or `async`.
    pub stream_processing_mode: Option<String>,
    /// Whether a client may send its own `guardrailConfig` (replacing the fields it names).
    pub allow_request_guardrail: bool,
}

/// The `guardrail` configuration: a default for every key and whole replacements per key name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardrailPolicy {
    pub default: Guardrail,
    pub keys: BTreeMap<String, Guardrail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrail {
    identifier: Option<String>,
    version: Option<String>,
    trace: Option<String>,
    stream_processing_mode: Option<String>,
    allow_request_guardrail: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrailPolicy {
    identifier: Option<String>,
    version: Option<String>,
    trace: Option<String>,
    stream_processing_mode: Option<String>,
    allow_request_guardrail: Option<bool>,
    #[serde(default)]
    keys: BTreeMap<String, RawGuardrail>,
}

const TRACE_VALUES: &[&str] = &["enabled", "disabled", "enabled_full"];
const STREAM_MODES: &[&str] = &["sync", "async"];

/// Bedrock's pattern for `guardrailIdentifier`: `[a-z0-9]+` or a guardrail ARN
/// (`arn:aws(-…)?:bedrock:<region>:<12 digits>:guardrail/[a-z0-9]+`).
fn valid_identifier(id: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if plain(id) {
        return true;
    }
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "bedrock", region, account, resource] => {
            (*partition == "aws"
                || partition
                    .strip_prefix("aws-")
                    .is_some_and(|p| !p.is_empty()))
                && (1..=20).contains(&region.len())
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("guardrail/").is_some_and(plain)
        }
        _ => false,
    }
}

/// Bedrock's pattern for `guardrailVersion`: `DRAFT` or 1 to 99999999.
fn valid_version(version: &str) -> bool {
    version == "DRAFT"
        || (!version.is_empty()
            && version.len() <= 8
            && !version.starts_with('0')
            && version.bytes().all(|b| b.is_ascii_digit()))
}

/// What the four settings are called where they are written.
struct Names {
    identifier: &'static str,
    version: &'static str,
    trace: &'static str,
    stream_processing_mode: &'static str,
}

/// The plugin configuration's names.
const CONFIG_NAMES: Names = Names {
    identifier: "identifier",
    version: "version",
    trace: "trace",
    stream_processing_mode: "stream_processing_mode",
};

/// Bedrock's names, which clients send.
const REQUEST_NAMES: Names = Names {
    identifier: "guardrailIdentifier",
    version: "guardrailVersion",
    trace: "trace",
    stream_processing_mode: "streamProcessingMode",
};

/// Checks one setting: on failure the name of the setting at fault and what is wrong.
fn check(g: &Guardrail, names: &Names) -> Result<(), (&'static str, String)> {
    match (&g.identifier, &g.version) {
        (Some(id), _) if !valid_identifier(id) => {
            return Err((
                names.identifier,
                format!("{id:?} is not a guardrail id ([a-z0-9]+) or guardrail ARN"),
            ))
        }
        (_, Some(v)) if !valid_version(v) => {
            return Err((
                names.version,
                format!("{v:?} is not DRAFT or a version number"),
            ))
        }
        (Some(_), None) => {
            return Err((names.version, format!("required with {}", names.identifier)))
        }
        (None, Some(_)) => {
            return Err((names.identifier, format!("required with {}", names.version)))
        }
        _ => {}
    }
    if let Some(t) = g.trace.as_deref().filter(|t| !TRACE_VALUES.contains(t)) {
        return Err((
            names.trace,
            format!("{t:?} is not one of enabled, disabled, enabled_full"),
        ));
    }
    if let Some(m) = g
        .stream_processing_mode
        .as_deref()
        .filter(|m| !STREAM_MODES.contains(m))
    {
        return Err((
            names.stream_processing_mode,
            format!("{m:?} is not sync or async"),
        ));
    }
    Ok(())
}

/// Checks a configured setting; `field` names it (`guardrail` or `guardrail.keys.<name>`).
fn check_config(field: &str, g: &Guardrail) -> Result<(), String> {
    check(g, &CONFIG_NAMES).map_err(|(name, problem)| format!("{field}.{name}: {problem}"))
}

fn from_raw(raw: RawGuardrail) -> Guardrail {
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Guardrail {
        identifier: non_empty(raw.identifier),
        version: non_empty(raw.version),
        trace: non_empty(raw.trace),
        stream_processing_mode: non_empty(raw.stream_processing_mode),
        allow_request_guardrail: raw.allow_request_guardrail.unwrap_or(false),
    }
}

impl GuardrailPolicy {
    /// Validates the configuration; `key_names` are the configured client keys' names.
    pub fn load(raw: Option<RawGuardrailPolicy>, key_names: &[&str]) -> Result<Self, String> {
        let raw = raw.unwrap_or_default();
        let default = from_raw(RawGuardrail {
            identifier: raw.identifier,
            version: raw.version,
            trace: raw.trace,
            stream_processing_mode: raw.stream_processing_mode,
            allow_request_guardrail: raw.allow_request_guardrail,
        });
        check_config("guardrail", &default)?;
        let mut keys = BTreeMap::new();
        for (name, raw) in raw.keys {
            let field = format!("guardrail.keys.{name}");
            if !key_names.contains(&name.as_str()) {
                return Err(format!("{field}: no api_keys entry is named {name:?}"));
            }
            let g = from_raw(raw);
            check_config(&field, &g)?;
            keys.insert(name, g);
        }
        Ok(GuardrailPolicy { default, keys })
    }

    /// The setting that applies to the key named `key_name`.
    pub fn for_key(&self, key_name: Option<&str>) -> &Guardrail {
        key_name
            .and_then(|name| self.keys.get(name))
            .unwrap_or(&self.default)
    }
}

/// The field of a client answer that carries Bedrock's guardrail trace (`trace.guardrail`).
pub const TRACE_FIELD: &str = "guardrail_trace";

/// Puts Bedrock's guardrail trace into a client answer object. Bedrock sends a trace only when
/// the request's `guardrailConfig` asked for one (the key's `trace`, or the client's where
/// allowed), so answers to requests without one never carry it.
pub fn attach_trace(answer: &mut Value, converse_trace: Option<&Value>) {
    let Some(trace) = converse_trace.and_then(|t| t.get("guardrail")) else {
        return;
    };
    if let Some(obj) = answer.as_object_mut() {
        obj.insert(TRACE_FIELD.into(), trace.clone());
    }
}

/// The field clients send (Bedrock's own name and shape, as LiteLLM takes it).
pub const REQUEST_FIELD: &str = "guardrailConfig";

/// Takes the client's `guardrailConfig` from the request's top level (where SDKs merge
/// `extra_body`) or from a literal `extra_body` object (as bedrock-access-gateway takes it), so
/// it never reaches the model's own fields.
pub fn take_requested(
    top: &mut Map<String, Value>,
    extra_body: Option<&mut Map<String, Value>>,
) -> Option<Value> {
    // `null` is the same as leaving the field out.
    let given = |v: &Value| !v.is_null();
    let from_extra = extra_body
        .and_then(|e| e.remove(REQUEST_FIELD))
        .filter(given);
    top.remove(REQUEST_FIELD).filter(given).or(from_extra)
}

/// The answer to a client choosing a guardrail its key may not choose; `field` is what it sent.
pub fn forbidden(field: &str) -> ApiError {
    ApiError::new(
        403,
        "permission_error",
        format!(
            "This API key may not choose a guardrail: remove '{field}' from the request \
             (the gateway applies the guardrail configured for the key)."
        ),
    )
    .with_param(field)
    .with_code("guardrail_not_allowed")
}

/// Whether clients of the key named `key_name` may choose their own guardrail.
pub fn may_choose(policy: &GuardrailPolicy, key_name: Option<&str>) -> bool {
    policy.for_key(key_name).allow_request_guardrail
}

/// The client's `guardrailConfig` laid over the configured setting, field by field.
fn overlay(base: &Guardrail, requested: &Value) -> Result<Guardrail, ApiError> {
    let invalid =
        |sub: &str, msg: String| ApiError::invalid_param(&format!("{REQUEST_FIELD}.{sub}"), msg);
    let obj = requested.as_object().ok_or_else(|| {
        ApiError::invalid_param(REQUEST_FIELD, "'guardrailConfig' must be an object.")
    })?;
    let mut g = base.clone();
    for (name, value) in obj {
        let text = value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| invalid(name, format!("'{REQUEST_FIELD}.{name}' must be a string.")))?;
        let slot = match name.as_str() {
            "guardrailIdentifier" => &mut g.identifier,
            "guardrailVersion" => &mut g.version,
            "trace" => &mut g.trace,
            "streamProcessingMode" => &mut g.stream_processing_mode,
            _ => {
                return Err(invalid(
                    name,
                    format!(
                        "Unknown field '{REQUEST_FIELD}.{name}' (expected guardrailIdentifier, \
                         guardrailVersion, trace, streamProcessingMode)."
                    ),
                ))
            }
        };
        *slot = Some(text);
    }
    check(&g, &REQUEST_NAMES).map_err(|(name, problem)| {
        invalid(name, format!("'{REQUEST_FIELD}.{name}': {problem}."))
    })?;
    Ok(g)
}

/// The guardrail one request gets: the key's setting with the client's `guardrailConfig` laid
/// over it where the key allows that; `None` when no guardrail applies.
pub fn settle(
    policy: &GuardrailPolicy,
    key_name: Option<&str>,
    requested: Option<&Value>,
) -> Result<Option<Applied>, ApiError> {
    let configured = policy.for_key(key_name);
    let g = match requested {
        Some(_) if !configured.allow_request_guardrail => return Err(forbidden(REQUEST_FIELD)),
        Some(requested) => overlay(configured, requested)?,
        None => configured.clone(),
    };
    let (Some(identifier), Some(version)) = (g.identifier, g.version) else {
        return Ok(None);
    };
    Ok(Some(Applied {
        identifier,
        version,
        trace: g.trace,
        stream_processing_mode: g.stream_processing_mode,
    }))
}

/// A guardrail settled for one request, in Converse's terms (`trace` and the stream mode as
/// Converse spells them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub identifier: String,
    pub version: String,
    pub trace: Option<String>,
    pub stream_processing_mode: Option<String>,
}

/// InvokeModel's request headers for a guardrail (API reference, InvokeModel).
pub const IDENTIFIER_HEADER: &str = "x-amzn-bedrock-guardrailidentifier";
pub const VERSION_HEADER: &str = "x-amzn-bedrock-guardrailversion";
pub const TRACE_HEADER: &str = "x-amzn-bedrock-trace";
/// The InvokeModel body field for the guardrail's stream processing mode.
pub const INVOKE_BODY_CONFIG: &str = "amazon-bedrock-guardrailConfig";

impl Applied {
    /// Converse's `guardrailConfig`; `stream` adds `streamProcessingMode` (ConverseStream only:
    /// Converse refuses the field).
    pub fn converse(&self, stream: bool) -> Value {
        let mut out = Map::new();
        out.insert("guardrailIdentifier".into(), self.identifier.clone().into());
        out.insert("guardrailVersion".into(), self.version.clone().into());
        if let Some(trace) = &self.trace {
            out.insert("trace".into(), trace.clone().into());
        }
        if let Some(mode) = self.stream_processing_mode.as_ref().filter(|_| stream) {
            out.insert("streamProcessingMode".into(), mode.clone().into());
        }
        Value::Object(out)
    }

    /// InvokeModel's headers: the trace in upper case (`ENABLED`, `DISABLED`, `ENABLED_FULL`).
    pub fn invoke_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            (IDENTIFIER_HEADER.to_string(), self.identifier.clone()),
            (VERSION_HEADER.to_string(), self.version.clone()),
        ];
        if let Some(trace) = &self.trace {
            headers.push((TRACE_HEADER.to_string(), trace.to_ascii_uppercase()));
        }
        headers
    }

    /// InvokeModelWithResponseStream's `amazon-bedrock-guardrailConfig` body field for the
    /// `async` mode (user guide, "Configure streaming response behavior": `ASYNCHRONOUS` opts
    /// in; synchronous is the default and has no documented value to send).
    pub fn invoke_stream_body_config(&self) -> Option<Value> {
        (self.stream_processing_mode.as_deref() == Some("async"))
            .then(|| serde_json::json!({ "streamProcessingMode": "ASYNCHRONOUS" }))
    }
}

/// The Converse `guardrailConfig` for a request from the key named `key_name`, or `None` when
/// no guardrail applies. `stream` adds `streamProcessingMode` (ConverseStream only).
pub fn converse_config(
    policy: &GuardrailPolicy,
    key_name: Option<&str>,
    requested: Option<&Value>,
    stream: bool,
) -> Result<Option<Value>, ApiError> {
    Ok(settle(policy, key_name, requested)?.map(|g| g.converse(stream)))
}

/// The answer field where InvokeModel reports whether the guardrail intervened
/// (`INTERVENED` / `NONE`) and the one holding its trace (`{"guardrail": {…}}`).
pub const INVOKE_ACTION_FIELD: &str = "amazon-bedrock-guardrailAction";
pub const INVOKE_TRACE_FIELD: &str = "amazon-bedrock-trace";

/// Marks a Messages answer (a Message or `message_delta`) as one the guardrail intervened in,
/// with InvokeModel's own field: the stop reason stays `end_turn`, as on InvokeModel, because
/// Claude Code shows a `refusal` as Anthropic's usage-policy error and drops the guardrail's
/// message.
pub fn mark_intervened(answer: &mut Value) {
    if let Some(obj) = answer.as_object_mut() {
        obj.insert(
            INVOKE_ACTION_FIELD.into(),
            Value::String("INTERVENED".into()),
        );
    }
}

/// Takes InvokeModel's guardrail fields out of an answer object (a Message or a stream event):
/// whether the guardrail intervened, and its trace.
pub fn take_invoke_verdict(answer: &mut Value) -> (bool, Option<Value>) {
    let Some(obj) = answer.as_object_mut() else {
        return (false, None);
    };
    let intervened = obj
        .remove(INVOKE_ACTION_FIELD)
        .is_some_and(|a| a == "INTERVENED");
    (intervened, obj.remove(INVOKE_TRACE_FIELD))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn policy(json: Value, keys: &[&str]) -> Result<GuardrailPolicy, String> {
        let raw: RawGuardrailPolicy = serde_json::from_value(json).map_err(|e| e.to_string())?;
        GuardrailPolicy::load(Some(raw), keys)
    }

    #[test]
    fn identifiers_and_versions_follow_bedrocks_patterns() {
        assert!(valid_identifier("gr0abc12"));
        assert!(valid_identifier(
            "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123"
        ));
        assert!(valid_identifier(
            "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:guardrail/x1"
        ));
        for bad in [
            "",
            "Gr1",
            "gr-1",
            "arn:aws:bedrock:us-east-1:1234:guardrail/a",
        ] {
            assert!(!valid_identifier(bad), "{bad}");
        }
        assert!(valid_version("DRAFT") && valid_version("1") && valid_version("12345678"));
        for bad in ["", "0", "01", "draft", "123456789", "v1"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn configured_guardrail_goes_on_every_request_with_the_stream_mode_on_streams_only() {
        let p = policy(
            json!({"identifier":"gr1","version":"2","trace":"enabled","stream_processing_mode":"async"}),
            &[],
        )
        .unwrap();
        let json_req = converse_config(&p, Some("any"), None, false).unwrap();
        assert_eq!(
            json_req,
            Some(json!({"guardrailIdentifier":"gr1","guardrailVersion":"2","trace":"enabled"}))
        );
        let stream_req = converse_config(&p, None, None, true).unwrap().unwrap();
        assert_eq!(stream_req["streamProcessingMode"], "async");
        let none = policy(json!({}), &[]).unwrap();
        assert_eq!(converse_config(&none, None, None, true).unwrap(), None);
    }

    #[test]
    fn a_key_entry_replaces_the_default_for_that_key() {
        let p = policy(
            json!({"identifier":"gr1","version":"1",
                   "keys":{"team-a":{"identifier":"gr2","version":"DRAFT"},"open":{}}}),
            &["team-a", "open", "other"],
        )
        .unwrap();
        let id = |key| {
            converse_config(&p, Some(key), None, false)
                .unwrap()
                .map(|v| v["guardrailIdentifier"].clone())
        };
        assert_eq!(id("team-a"), Some(json!("gr2")));
        assert_eq!(id("other"), Some(json!("gr1")));
        assert_eq!(id("open"), None);
    }

    #[test]
    fn a_request_guardrail_needs_the_keys_permission() {
        let p = policy(
            json!({"identifier":"gr1","version":"1",
                   "keys":{"lab":{"identifier":"gr1","version":"1","allow_request_guardrail":true}}}),
            &["lab", "prod"],
        )
        .unwrap();
        let asked =
            json!({"guardrailIdentifier":"gr9","guardrailVersion":"3","trace":"enabled_full"});
        let err = converse_config(&p, Some("prod"), Some(&asked), false).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_deref()),
            (403, Some("guardrail_not_allowed"))
        );
        let got = converse_config(&p, Some("lab"), Some(&asked), false)
            .unwrap()
            .unwrap();
        assert_eq!(got, asked);
        // Fields the client leaves out keep the configured values.
        let trace_only = json!({"trace":"enabled"});
        let got = converse_config(&p, Some("lab"), Some(&trace_only), false)
            .unwrap()
            .unwrap();
        assert_eq!(got["guardrailIdentifier"], "gr1");
        assert_eq!(got["trace"], "enabled");
        for (bad, param) in [
            (
                json!({"guardrailIdentifier":"GR"}),
                "guardrailConfig.guardrailIdentifier",
            ),
            (
                json!({"guardrailVersion":"v2"}),
                "guardrailConfig.guardrailVersion",
            ),
            (json!({"trace":"full"}), "guardrailConfig.trace"),
            (
                json!({"streamProcessingMode":"later"}),
                "guardrailConfig.streamProcessingMode",
            ),
            (json!({"guardrailId":"x"}), "guardrailConfig.guardrailId"),
            (json!("gr1"), "guardrailConfig"),
        ] {
            let err = converse_config(&p, Some("lab"), Some(&bad), true).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
            assert_eq!(err.param.as_deref(), Some(param), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn bad_settings_name_the_field() {
        for (json, field) in [
            (json!({"identifier":"gr1"}), "guardrail.version"),
            (json!({"version":"1"}), "guardrail.identifier"),
            (
                json!({"identifier":"Bad Id","version":"1"}),
                "guardrail.identifier",
            ),
            (
                json!({"identifier":"gr1","version":"0"}),
                "guardrail.version",
            ),
            (
                json!({"identifier":"gr1","version":"1","trace":"on"}),
                "guardrail.trace",
            ),
            (
                json!({"identifier":"gr1","version":"1","stream_processing_mode":"fast"}),
                "guardrail.stream_processing_mode",
            ),
            (json!({"keys":{"ghost":{}}}), "guardrail.keys.ghost"),
            (
                json!({"keys":{"a":{"trace":"x"}}}),
                "guardrail.keys.a.trace",
            ),
        ] {
            let err = policy(json.clone(), &["a"]).unwrap_err();
            assert!(err.starts_with(field), "{json}: {err}");
        }
        let err = policy(json!({"identifer":"gr1"}), &[]).unwrap_err();
        assert!(err.contains("identifer"), "{err}");
    }

    #[test]
    fn only_a_guardrail_trace_bedrock_sent_reaches_the_answer() {
        let mut answer = json!({"id": "x"});
        attach_trace(&mut answer, None);
        attach_trace(&mut answer, Some(&json!({"promptRouter": {}})));
        assert_eq!(answer, json!({"id": "x"}));
        let trace = json!({"guardrail": {"inputAssessment": {"g1": {}}}});
        attach_trace(&mut answer, Some(&trace));
        assert_eq!(answer[TRACE_FIELD], trace["guardrail"]);
    }

    #[test]
    fn the_request_field_is_taken_from_the_top_level_or_extra_body() {
        let mut top = json!({"guardrailConfig":{"trace":"enabled"},"x":1});
        let top = top.as_object_mut().unwrap();
        assert_eq!(take_requested(top, None), Some(json!({"trace":"enabled"})));
        assert!(!top.contains_key(REQUEST_FIELD));
        let mut extra = json!({"guardrailConfig":{"trace":"disabled"}});
        let extra = extra.as_object_mut().unwrap();
        let got = take_requested(&mut Map::new(), Some(extra));
        assert_eq!(got, Some(json!({"trace":"disabled"})));
        assert!(extra.is_empty());
    }
}
