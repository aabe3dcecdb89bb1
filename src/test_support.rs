//! Fixtures the core's tests share.

use crate::config::Config;
use std::time::{Duration, SystemTime};

/// A configuration that signs with example credentials and knows client key `k`; `json` is
/// the plugin configuration (`""` for none) and `env` extra variables.
pub fn signing_config(json: &str, env: &[(&str, &str)]) -> Config {
    let lookup = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_string()),
        "AWS_SECRET_ACCESS_KEY" => Some("secret".to_string()),
        "API_KEY" => Some("k".to_string()),
        other => env
            .iter()
            .find(|(name, _)| *name == other)
            .map(|(_, v)| v.to_string()),
    };
    Config::load(json.as_bytes(), &lookup).unwrap()
}

/// A configuration that leaves signing to Envoy and asks clients for no key, with these
/// plugin configuration fields (a JSON object, `{}` for none).
pub fn open_config(json: &str) -> Config {
    let mut raw: serde_json::Value = serde_json::from_str(json).unwrap();
    raw["upstream_auth"] = serde_json::json!("envoy");
    raw["client_auth"] = serde_json::json!(false);
    Config::load(raw.to_string().as_bytes(), &|_| None).unwrap()
}

/// A fixed moment (2026-11-26) for tests that sign or stamp.
pub fn fixed_now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_633_051)
}
