//! Plugin configuration: the JSON in Envoy's `configuration` field, completed from environment
//! variables the VM may read (`vm_config.environment_variables.host_env_keys`). Validated once
//! at load time so a bad configuration stops the filter instead of serving wrongly.

use crate::bedrock::model_id::validate_model_id;
use crate::error::ApiError;
use crate::policy::fallback::Fallbacks;
use crate::policy::guardrail::{GuardrailPolicy, RawGuardrailPolicy};
use crate::policy::quota::Quota;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How requests to Bedrock are authorized.
#[derive(Clone, PartialEq)]
pub enum UpstreamAuth {
    /// SigV4 signed in the filter with static credentials.
    SigV4 {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    /// A Bedrock API key sent as `Authorization: Bearer`.
    ApiKey(String),
    /// Envoy's own `aws_request_signing` upstream filter signs; the filter only translates.
    Envoy,
}

impl std::fmt::Debug for UpstreamAuth {
    // Never print secrets, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamAuth::SigV4 {
                access_key_id,
                session_token,
                ..
            } => {
                let shown: String = access_key_id.chars().take(4).collect();
                write!(
                    f,
                    "SigV4({shown}…, session_token={})",
                    session_token.is_some()
                )
            }
            UpstreamAuth::ApiKey(_) => write!(f, "ApiKey(…)"),
            UpstreamAuth::Envoy => write!(f, "Envoy"),
        }
    }
}

/// A client key allowed to call the gateway, with an optional name for logs and stats.
#[derive(Clone, PartialEq)]
pub struct ClientKey {
    pub name: String,
    pub key: String,
    /// Models this key may use (ids or aliases); empty means every allowed model.
    pub models: Vec<String>,
    /// This key's own quota, instead of the default `quota`.
    pub quota: Option<Quota>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({})", self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub region: String,
    /// Host (and port) of the Bedrock Runtime endpoint: the `:authority` we sign for.
    pub runtime_host: String,
    pub upstream_auth: UpstreamAuth,
    /// Empty with `client_auth` on means nobody gets in; see `validate`.
    pub client_keys: Vec<ClientKey>,
    /// Off when another Envoy filter (ext_authz, jwt_authn) already authenticates callers.
    pub client_auth: bool,
    pub max_request_bytes: usize,
    /// Friendly model names → Bedrock model ids.
    pub model_aliases: BTreeMap<String, String>,
    /// As BAG's `DEFAULT_MODEL`: the model for chat names starting `gpt-` and for no name.
    pub default_model: Option<String>,
    /// As BAG's `DEFAULT_EMBEDDING_MODEL`: the model for names starting `text-embedding-`.
    pub default_embedding_model: Option<String>,
    /// Models advertised by `/v1/models`.
    pub models: Vec<String>,
    /// When not empty, the only models any key may use (ids or aliases).
    pub allowed_models: Vec<String>,
    /// Where `/v1/models` comes from: the Bedrock control plane or `models`.
    pub models_source: ModelsSource,
    /// How long a model list fetched from Bedrock is served before it is fetched again.
    pub models_cache: std::time::Duration,
    /// Host (and port) of the Bedrock control plane: the `:authority` we sign for.
    pub control_plane_host: String,
    /// Envoy clusters the filter calls itself (model list; one call per embedding input).
    pub control_plane_cluster: String,
    pub runtime_cluster: String,
    /// Insert cachePoint blocks for models that support prompt caching.
    pub prompt_caching: bool,
    /// Send Anthropic's interleaved-thinking beta when Claude 4+ thinks.
    pub interleaved_thinking: bool,
    /// Fetching `http(s)` image URLs from the filter; off unless a cluster is configured.
    pub image_fetch: ImageFetch,
    /// Remembering Responses output items so `item_reference`s to them resolve.
    pub responses_item_store: ItemStore,
    /// Serving Bedrock Runtime's own API (`/model/{id}/...`) to clients with a gateway key.
    pub bedrock_passthrough: bool,
    /// Bedrock Guardrails on Converse requests: for every key, per key, per request if allowed.
    pub guardrail: GuardrailPolicy,
    /// The quota of every client key without one of its own.
    pub quota: Quota,
    /// Ordered fallback models per requested name, and how long a failing model cools down.
    pub model_fallbacks: Fallbacks,
}

/// The ring of output items kept in Envoy's shared data (see `translate::responses::item_store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemStore {
    pub enabled: bool,
    /// Number of slots; memory is bounded by `slots * max_item_bytes`.
    pub slots: u32,
    /// Items larger than this (as JSON) are not remembered.
    pub max_item_bytes: usize,
}

pub const DEFAULT_ITEM_STORE_SLOTS: u32 = 1024;
pub const DEFAULT_ITEM_STORE_MAX_ITEM_BYTES: usize = 64 * 1024;
const MAX_ITEM_STORE_SLOTS: u32 = 1_000_000;

impl Default for ItemStore {
    fn default() -> Self {
        ItemStore {
            enabled: true,
            slots: DEFAULT_ITEM_STORE_SLOTS,
            max_item_bytes: DEFAULT_ITEM_STORE_MAX_ITEM_BYTES,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItemStore {
    enabled: Option<bool>,
    slots: Option<u32>,
    max_item_bytes: Option<usize>,
}

fn item_store(raw: Option<RawItemStore>) -> Result<ItemStore, String> {
    let raw = raw.unwrap_or_default();
    let defaults = ItemStore::default();
    let store = ItemStore {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        slots: raw.slots.unwrap_or(defaults.slots),
        max_item_bytes: raw.max_item_bytes.unwrap_or(defaults.max_item_bytes),
    };
    if store.slots == 0 || store.slots > MAX_ITEM_STORE_SLOTS {
        return Err(format!(
            "responses_item_store.slots: must be between 1 and {MAX_ITEM_STORE_SLOTS}"
        ));
    }
    if store.max_item_bytes == 0 {
        return Err("responses_item_store.max_item_bytes: must be greater than 0".into());
    }
    Ok(store)
}

/// Where and how the filter fetches image URLs that clients send instead of inline data.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFetch {
    /// Envoy cluster for `https://` URLs (TLS; a dynamic forward proxy); `None` refuses them.
    pub https_cluster: Option<String>,
    /// Envoy cluster for `http://` URLs; `None` refuses them.
    pub http_cluster: Option<String>,
    pub timeout: std::time::Duration,
    /// Largest image accepted (Bedrock's limit is 3.75 MB).
    pub max_bytes: usize,
    /// Host names (and their subdomains) that may be fetched; empty means any host name
    /// except IP literals and localhost, which must be listed to be fetched.
    pub allowed_hosts: Vec<String>,
}

impl ImageFetch {
    pub fn enabled(&self) -> bool {
        self.https_cluster.is_some() || self.http_cluster.is_some()
    }
}

pub const DEFAULT_IMAGE_FETCH_TIMEOUT_MS: u64 = 10_000;
/// Clusters envoy/envoy.yaml renders when IMAGE_FETCH=on.
pub const IMAGE_FETCH_TLS_CLUSTER: &str = "image_fetch_tls";
pub const IMAGE_FETCH_PLAIN_CLUSTER: &str = "image_fetch_plain";

/// The JSON as written in Envoy's plugin configuration. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    region: Option<String>,
    /// Full URL of Bedrock Runtime, e.g. `https://bedrock-runtime.us-east-1.amazonaws.com`.
    endpoint_url: Option<String>,
    /// `sigv4` (default when credentials exist), `api_key`, or `envoy`.
    upstream_auth: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    bedrock_api_key: Option<String>,
    api_keys: Option<Vec<RawKey>>,
    client_auth: Option<bool>,
    max_request_bytes: Option<usize>,
    model_aliases: Option<BTreeMap<String, String>>,
    default_model: Option<String>,
    default_embedding_model: Option<String>,
    models: Option<Vec<String>>,
    allowed_models: Option<Vec<String>>,
    /// `bedrock` (live list) or `static` (the `models` field).
    models_source: Option<String>,
    models_cache_seconds: Option<u64>,
    /// Full URL of the Bedrock control plane, e.g. `https://bedrock.us-east-1.amazonaws.com`.
    control_plane_url: Option<String>,
    control_plane_cluster: Option<String>,
    runtime_cluster: Option<String>,
    prompt_caching: Option<bool>,
    interleaved_thinking: Option<bool>,
    bedrock_passthrough: Option<bool>,
    quota: Option<Quota>,
    /// Checked by hand so that errors name the field (see `policy::fallback`).
    model_fallbacks: Option<serde_json::Value>,
    fallback_cooldown_seconds: Option<u64>,
    image_fetch_cluster: Option<String>,
    image_fetch_http_cluster: Option<String>,
    image_fetch_timeout_ms: Option<u64>,
    image_fetch_max_bytes: Option<usize>,
    image_fetch_allowed_hosts: Option<Vec<String>>,
    responses_item_store: Option<RawItemStore>,
    guardrail: Option<RawGuardrailPolicy>,
}

/// Where the model list comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelsSource {
    /// ListFoundationModels + ListInferenceProfiles, cached per VM.
    Bedrock,
    /// The configured `models` (and aliases) only.
    Static,
}

pub const DEFAULT_MODELS_CACHE_SECONDS: u64 = 300;

/// A key is either a plain string or `{"name": ..., "key": ...}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawKey {
    Plain(String),
    Named {
        name: String,
        key: String,
        #[serde(default)]
        models: Vec<String>,
        #[serde(default)]
        quota: Option<Quota>,
    },
}

pub const DEFAULT_MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `https://host:port/...` → `host:port`; the scheme is Envoy's business (cluster TLS).
fn host_of_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            format!(
                "endpoint_url must start with http:// or https://, got {:?}",
                shown_url(url)
            )
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(format!(
            "endpoint_url has no valid host (credentials do not belong in it): {:?}",
            shown_url(url)
        ));
    }
    Ok(host.to_string())
}

/// A URL as it may appear in an error: without user:password, query or fragment (they can
/// hold credentials).
fn shown_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or("");
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let shown = if scheme.is_empty() {
        format!("{host}/{path}")
    } else {
        format!("{scheme}://{host}/{path}")
    };
    shown.trim_end_matches('/').chars().take(200).collect()
}

impl Config {
    /// Parses the plugin JSON and fills gaps from `env` (the usual AWS / gateway variables).
    pub fn load(json: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let raw: RawConfig = if json.iter().all(|b| b.is_ascii_whitespace()) {
            RawConfig::default()
        } else {
            serde_json::from_slice(json).map_err(|e| format!("plugin configuration: {e}"))?
        };
        let get = |key: &str| non_empty(env(key));

        let region = non_empty(raw.region)
            .or_else(|| get("AWS_REGION"))
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        if !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!("region: invalid region {region:?}"));
        }
        let runtime_host =
            match non_empty(raw.endpoint_url).or_else(|| get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")) {
                Some(url) => host_of_url(&url).map_err(|e| format!("endpoint_url: {e}"))?,
                None => format!("bedrock-runtime.{region}.amazonaws.com"),
            };

        let access_key_id = non_empty(raw.access_key_id).or_else(|| get("AWS_ACCESS_KEY_ID"));
        let secret_access_key =
            non_empty(raw.secret_access_key).or_else(|| get("AWS_SECRET_ACCESS_KEY"));
        let session_token = non_empty(raw.session_token).or_else(|| get("AWS_SESSION_TOKEN"));
        let bedrock_api_key =
            non_empty(raw.bedrock_api_key).or_else(|| get("AWS_BEARER_TOKEN_BEDROCK"));
        let mode = non_empty(raw.upstream_auth).or_else(|| get("UPSTREAM_AUTH"));
        let upstream_auth = match mode.as_deref() {
            Some("envoy") => UpstreamAuth::Envoy,
            Some("api_key") => UpstreamAuth::ApiKey(bedrock_api_key.ok_or(
                "upstream_auth: api_key needs bedrock_api_key or AWS_BEARER_TOKEN_BEDROCK",
            )?),
            Some("sigv4") | None => match (access_key_id, secret_access_key, bedrock_api_key) {
                (Some(access_key_id), Some(secret_access_key), _) => UpstreamAuth::SigV4 {
                    access_key_id,
                    secret_access_key,
                    session_token,
                },
                (None, None, Some(key)) if mode.is_none() => UpstreamAuth::ApiKey(key),
                _ => {
                    return Err("upstream_auth: no AWS credentials: set access_key_id and \
                                secret_access_key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), \
                                a Bedrock API key, or upstream_auth \"envoy\""
                        .into())
                }
            },
            Some(other) => {
                return Err(format!(
                    "upstream_auth: unknown mode {other:?} (expected sigv4, api_key or envoy)"
                ))
            }
        };

        let mut client_keys = Vec::new();
        match raw.api_keys {
            Some(keys) => {
                for (i, key) in keys.into_iter().enumerate() {
                    let (name, key, models, quota) = match key {
                        RawKey::Plain(key) => {
                            (format!("key{}", i.saturating_add(1)), key, Vec::new(), None)
                        }
                        RawKey::Named {
                            name,
                            key,
                            models,
                            quota,
                        } => (name, key, models, quota),
                    };
                    client_keys.push(ClientKey {
                        name,
                        key,
                        models,
                        quota,
                    });
                }
            }
            None => {
                for (i, key) in get("API_KEY").unwrap_or_default().split(',').enumerate() {
                    let key = key.trim();
                    if !key.is_empty() {
                        let name = format!("key{}", i.saturating_add(1));
                        client_keys.push(ClientKey {
                            name,
                            key: key.to_string(),
                            models: Vec::new(),
                            quota: None,
                        });
                    }
                }
            }
        }
        let client_auth = raw.client_auth.unwrap_or(true);
        if client_auth && client_keys.is_empty() {
            return Err(
                "api_keys: no client API key configured (set api_keys or API_KEY), \
                        or set client_auth to false when another filter authenticates"
                    .into(),
            );
        }
        if client_keys
            .iter()
            .any(|k| k.key.trim().is_empty() || k.name.trim().is_empty())
        {
            return Err("api_keys: keys and names must not be empty".into());
        }

        let max_request_bytes = raw.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
        if max_request_bytes == 0 {
            return Err("max_request_bytes: must be greater than 0".into());
        }
        let model_aliases = raw.model_aliases.unwrap_or_default();
        if let Some((alias, _)) = model_aliases
            .iter()
            .find(|(a, m)| a.is_empty() || m.is_empty())
        {
            return Err(format!(
                "model_aliases: empty alias or model id for {alias:?}"
            ));
        }
        let model_fallbacks = Fallbacks::load(
            raw.model_fallbacks,
            raw.fallback_cooldown_seconds,
            &model_aliases,
        )?;
        let default_model = non_empty(raw.default_model).or_else(|| get("DEFAULT_MODEL"));
        if let Some(model) = &default_model {
            let id = model_aliases.get(model).unwrap_or(model);
            validate_model_id(id).map_err(|e| format!("default_model: {}", e.message))?;
        }
        let default_embedding_model =
            non_empty(raw.default_embedding_model).or_else(|| get("DEFAULT_EMBEDDING_MODEL"));
        if let Some(model) = &default_embedding_model {
            let id = model_aliases.get(model).unwrap_or(model);
            if validate_model_id(id).is_err() || crate::bedrock::embeddings::family(id).is_none() {
                return Err(format!(
                    "default_embedding_model: {model:?} is not an embedding model this gateway \
                     serves ({})",
                    crate::bedrock::embeddings::SUPPORTED
                ));
            }
        }
        let control_plane_host =
            match non_empty(raw.control_plane_url).or_else(|| get("AWS_ENDPOINT_URL_BEDROCK")) {
                Some(url) => host_of_url(&url).map_err(|e| format!("control_plane_url: {e}"))?,
                None => format!("bedrock.{region}.amazonaws.com"),
            };
        let models = raw.models.unwrap_or_default();
        let models_source = match non_empty(raw.models_source).as_deref() {
            Some("bedrock") => ModelsSource::Bedrock,
            Some("static") => ModelsSource::Static,
            None if models.is_empty() => ModelsSource::Bedrock,
            None => ModelsSource::Static,
            Some(other) => {
                return Err(format!(
                    "models_source: unknown source {other:?} (expected bedrock or static)"
                ))
            }
        };
        let cluster = |raw: Option<String>, var: &str, default: &str| {
            non_empty(raw)
                .or_else(|| get(var))
                .unwrap_or_else(|| default.to_string())
        };
        let control_plane_cluster = cluster(
            raw.control_plane_cluster,
            "CONTROL_PLANE_CLUSTER",
            "bedrock_control_plane",
        );
        let runtime_cluster = cluster(raw.runtime_cluster, "BEDROCK_CLUSTER", "bedrock");
        let image_fetch = image_fetch(
            ImageFetchRaw {
                https_cluster: raw.image_fetch_cluster,
                http_cluster: raw.image_fetch_http_cluster,
                timeout_ms: raw.image_fetch_timeout_ms,
                max_bytes: raw.image_fetch_max_bytes,
                allowed_hosts: raw.image_fetch_allowed_hosts,
            },
            &get,
        )?;
        let guardrail = guardrail(raw.guardrail, &client_keys)?;
        Ok(Config {
            region,
            runtime_host,
            upstream_auth,
            client_keys,
            client_auth,
            max_request_bytes,
            model_aliases,
            default_model,
            default_embedding_model,
            models,
            allowed_models: raw.allowed_models.unwrap_or_default(),
            models_source,
            models_cache: std::time::Duration::from_secs(
                raw.models_cache_seconds
                    .unwrap_or(DEFAULT_MODELS_CACHE_SECONDS),
            ),
            control_plane_host,
            control_plane_cluster,
            runtime_cluster,
            prompt_caching: match raw.prompt_caching {
                Some(on) => on,
                None => get("ENABLE_PROMPT_CACHING")
                    .map(|v| switch("ENABLE_PROMPT_CACHING", &v))
                    .transpose()?
                    .unwrap_or(false),
            },
            interleaved_thinking: raw
                .interleaved_thinking
                .or_else(|| get("ENABLE_INTERLEAVED_THINKING").map(|v| v == "true" || v == "1"))
                .unwrap_or(false),
            image_fetch,
            responses_item_store: item_store(raw.responses_item_store)?,
            // On only where client keys guard it, unless the operator says otherwise.
            bedrock_passthrough: raw.bedrock_passthrough.unwrap_or(client_auth),
            guardrail,
            quota: raw.quota.unwrap_or_default(),
            model_fallbacks,
        })
    }

    /// The name of the client key that matches `presented`, compared in constant time.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Option<String>, ApiError> {
        if !self.client_auth {
            return Ok(None);
        }
        let presented = authorization
            .and_then(|h| {
                let (scheme, token) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
                )
            })?;
        // Check every key so the time taken does not reveal which one nearly matched.
        let mut found = None;
        for key in &self.client_keys {
            if constant_time_eq(key.key.as_bytes(), presented.as_bytes()) && found.is_none() {
                found = Some(key.name.clone());
            }
        }
        found
            .map(Some)
            .ok_or_else(|| ApiError::unauthorized("Incorrect API key provided."))
    }

    /// Every secret the gateway holds (AWS keys, session token, Bedrock API key, client keys),
    /// so text from outside can be cleaned of them before anyone sees it.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.client_keys.iter().map(|k| k.key.as_str()).collect();
        match &self.upstream_auth {
            UpstreamAuth::SigV4 {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                out.extend([access_key_id.as_str(), secret_access_key.as_str()]);
                out.extend(session_token.as_deref());
            }
            UpstreamAuth::ApiKey(key) => out.push(key.as_str()),
            UpstreamAuth::Envoy => {}
        }
        out
    }

    /// The names of the keys that have a quota.
    pub fn keys_under_quota(&self) -> Vec<&str> {
        self.client_keys
            .iter()
            .filter(|k| self.quota_for(&k.name).is_some())
            .map(|k| k.name.as_str())
            .collect()
    }

    /// The quota of the key named `key_name`; None when it has no limits.
    pub fn quota_for(&self, key_name: &str) -> Option<Quota> {
        let own = self
            .client_keys
            .iter()
            .find(|k| k.name == key_name)
            .and_then(|k| k.quota);
        Some(own.unwrap_or(self.quota)).filter(|q| !q.is_unlimited())
    }

    /// Whether the key named `key_name` may use Bedrock model `model_id`. Allow-lists may
    /// name aliases or ids; both the global list and the key's own list must admit the model.
    /// A `model_fallbacks` name admits every entry of its list.
    pub fn model_allowed(&self, key_name: Option<&str>, model_id: &str) -> bool {
        let names = |m: &String| {
            self.resolve_model(m) == model_id
                || self
                    .model_fallbacks
                    .list_for(Some(m), None)
                    .is_some_and(|list| list.iter().any(|e| e == model_id))
        };
        let admits = |list: &[String]| list.is_empty() || list.iter().any(names);
        let key_models = key_name
            .and_then(|name| self.client_keys.iter().find(|k| k.name == name))
            .map(|k| k.models.as_slice())
            .unwrap_or(&[]);
        admits(&self.allowed_models) && admits(key_models)
    }

    /// The Bedrock model id for a requested name (aliases resolved).
    pub fn resolve_model<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model_aliases
            .get(requested)
            .map(String::as_str)
            .unwrap_or(requested)
    }

    /// The Bedrock model id for a chat or Responses model name, as BAG picks it: an alias wins;
    /// else, with `default_model` set, a name starting `gpt-` (any case) or no name at all
    /// means `default_model`. `None` when no name came and there is no default.
    pub fn resolve_chat_model<'a>(&'a self, requested: Option<&'a str>) -> Option<&'a str> {
        let default = self.default_model.as_deref();
        match requested {
            Some(name) if self.model_aliases.contains_key(name) => Some(self.resolve_model(name)),
            Some(name) => match default {
                Some(default) if has_prefix_ignoring_case(name, "gpt-") => {
                    Some(self.resolve_model(default))
                }
                _ => Some(name),
            },
            None => default.map(|d| self.resolve_model(d)),
        }
    }

    /// The Bedrock model id for an embeddings model name: an alias wins; else, with
    /// `default_embedding_model` set, a name starting `text-embedding-` (any case) means it.
    pub fn resolve_embedding_model<'a>(&'a self, requested: &'a str) -> &'a str {
        match self.default_embedding_model.as_deref() {
            Some(default)
                if !self.model_aliases.contains_key(requested)
                    && has_prefix_ignoring_case(requested, "text-embedding-") =>
            {
                self.resolve_model(default)
            }
            _ => self.resolve_model(requested),
        }
    }
}

fn has_prefix_ignoring_case(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// A yes/no environment variable: BAG's `true`/`false` in any case, and `1`/`0`, `yes`/`no`.
/// Anything else stops the filter rather than being guessed (BAG took any other value as yes).
fn switch(var: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "{var}: expected true or false (also 1/0, yes/no), got {value:?}"
        )),
    }
}

/// The `guardrail` object; per-key entries must name configured keys.
fn guardrail(
    raw: Option<RawGuardrailPolicy>,
    keys: &[ClientKey],
) -> Result<GuardrailPolicy, String> {
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    GuardrailPolicy::load(raw, &names)
}

struct ImageFetchRaw {
    https_cluster: Option<String>,
    http_cluster: Option<String>,
    timeout_ms: Option<u64>,
    max_bytes: Option<usize>,
    allowed_hosts: Option<Vec<String>>,
}

/// Image fetching: clusters from the JSON, else IMAGE_FETCH_CLUSTER / IMAGE_FETCH_HTTP_CLUSTER,
/// else envoy.yaml's clusters when IMAGE_FETCH=on; hosts also from IMAGE_FETCH_ALLOWED_HOSTS.
fn image_fetch(
    raw: ImageFetchRaw,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<ImageFetch, String> {
    let switched_on = get("IMAGE_FETCH").is_some_and(|v| v == "on");
    let cluster = |raw: Option<String>, var: &str, default: &str| {
        non_empty(raw)
            .or_else(|| get(var))
            .or_else(|| switched_on.then(|| default.to_string()))
    };
    let max_bytes = raw
        .max_bytes
        .unwrap_or(crate::bedrock::converse::MAX_IMAGE_BYTES);
    if max_bytes == 0 || max_bytes > crate::bedrock::converse::MAX_IMAGE_BYTES {
        return Err(format!(
            "image_fetch_max_bytes: must be between 1 and {} (Bedrock's image limit)",
            crate::bedrock::converse::MAX_IMAGE_BYTES
        ));
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_IMAGE_FETCH_TIMEOUT_MS);
    if timeout_ms == 0 {
        return Err("image_fetch_timeout_ms: must be greater than 0".into());
    }
    let allowed_hosts: Vec<String> = match raw.allowed_hosts {
        Some(hosts) => hosts,
        None => get("IMAGE_FETCH_ALLOWED_HOSTS")
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    }
    .into_iter()
    .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
    .filter(|h| !h.is_empty())
    .collect();
    if let Some(bad) = allowed_hosts
        .iter()
        .find(|h| h.contains(|c: char| c == '/' || c == '@' || c.is_whitespace()))
    {
        return Err(format!(
            "image_fetch_allowed_hosts: {bad:?} is not a host name (no scheme, path or port)"
        ));
    }
    Ok(ImageFetch {
        https_cluster: cluster(
            raw.https_cluster,
            "IMAGE_FETCH_CLUSTER",
            IMAGE_FETCH_TLS_CLUSTER,
        ),
        http_cluster: cluster(
            raw.http_cluster,
            "IMAGE_FETCH_HTTP_CLUSTER",
            IMAGE_FETCH_PLAIN_CLUSTER,
        ),
        timeout: std::time::Duration::from_millis(timeout_ms),
        max_bytes,
        allowed_hosts,
    })
}

/// Compares without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        let y = i
            .checked_rem(b.len())
            .and_then(|j| b.get(j))
            .copied()
            .unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_fills_credentials_keys_and_endpoint() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "eu-west-1"),
            ("API_KEY", "k1, k2"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9999"),
        ]);
        let c = Config::load(b"", &env).unwrap();
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.runtime_host, "127.0.0.1:9999");
        assert_eq!(c.client_keys.len(), 2);
        assert!(matches!(c.upstream_auth, UpstreamAuth::SigV4 { .. }));
        assert!(c.authenticate(Some("Bearer k2")).is_ok());
        assert_eq!(c.authenticate(Some("Bearer nope")).unwrap_err().status, 401);
        assert_eq!(c.authenticate(None).unwrap_err().status, 401);
    }

    #[test]
    fn default_host_follows_region() {
        let env = env_of(&[("AWS_BEARER_TOKEN_BEDROCK", "bk"), ("API_KEY", "k")]);
        let c = Config::load(br#"{"region":"us-west-2"}"#, &env).unwrap();
        assert_eq!(c.runtime_host, "bedrock-runtime.us-west-2.amazonaws.com");
        assert_eq!(c.upstream_auth, UpstreamAuth::ApiKey("bk".into()));
    }

    #[test]
    fn model_list_source_cache_and_clusters() {
        let env = env_of(&[
            ("AWS_BEARER_TOKEN_BEDROCK", "bk"),
            ("API_KEY", "k"),
            ("AWS_REGION", "eu-west-3"),
            ("BEDROCK_CLUSTER", "bedrock_plain"),
        ]);
        let c = Config::load(b"", &env).unwrap();
        assert_eq!(c.models_source, ModelsSource::Bedrock);
        assert_eq!(c.control_plane_host, "bedrock.eu-west-3.amazonaws.com");
        assert_eq!(c.control_plane_cluster, "bedrock_control_plane");
        assert_eq!(c.runtime_cluster, "bedrock_plain");
        assert_eq!(c.models_cache.as_secs(), DEFAULT_MODELS_CACHE_SECONDS);
        // A static list alone switches the source; the URL override names the signed host.
        let c = Config::load(
            br#"{"models":["m"],"models_cache_seconds":5,"control_plane_url":"http://127.0.0.1:81","runtime_cluster":"rt"}"#,
            &env,
        )
        .unwrap();
        assert_eq!(c.models_source, ModelsSource::Static);
        assert_eq!(c.control_plane_host, "127.0.0.1:81");
        assert_eq!(c.models_cache.as_secs(), 5);
        assert_eq!(c.runtime_cluster, "rt");
        let err = Config::load(br#"{"models_source":"live"}"#, &env).unwrap_err();
        assert!(err.starts_with("models_source"), "{err}");
        let err = Config::load(br#"{"control_plane_url":"bedrock"}"#, &env).unwrap_err();
        assert!(err.starts_with("control_plane_url"), "{err}");
    }

    #[test]
    fn bad_configs_name_the_field() {
        let env = env_of(&[("API_KEY", "k")]);
        let err = Config::load(br#"{"upstream_auth":"envoy","bogus":1}"#, &env).unwrap_err();
        assert!(err.contains("bogus"), "{err}");
        let err = Config::load(b"{}", &env).unwrap_err();
        assert!(err.starts_with("upstream_auth"), "{err}");
        let err = Config::load(br#"{"upstream_auth":"envoy","api_keys":[]}"#, &env).unwrap_err();
        assert!(err.starts_with("api_keys"), "{err}");
        let err = Config::load(
            br#"{"upstream_auth":"envoy","endpoint_url":"ftp://x"}"#,
            &env,
        )
        .unwrap_err();
        assert!(err.starts_with("endpoint_url"), "{err}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "topsecret"),
            ("API_KEY", "clientkey"),
        ]);
        let shown = format!("{:?}", Config::load(b"", &env).unwrap());
        assert!(
            !shown.contains("topsecret") && !shown.contains("clientkey"),
            "{shown}"
        );
    }

    #[test]
    fn allow_lists_admit_aliases_and_ids_per_key() {
        let json = br#"{"upstream_auth":"envoy","allowed_models":["haiku","m2","m3"],
            "model_aliases":{"haiku":"anthropic.h"},
            "api_keys":[{"name":"a","key":"ka","models":["m2"]},"kb"]}"#;
        let c = Config::load(json, &|_| None).unwrap();
        assert!(c.model_allowed(Some("key2"), "anthropic.h"));
        assert!(c.model_allowed(Some("key2"), "m3"));
        assert!(!c.model_allowed(Some("key2"), "other"));
        assert!(c.model_allowed(Some("a"), "m2"));
        assert!(!c.model_allowed(Some("a"), "m3"));
    }

    #[test]
    fn image_fetch_is_off_unless_a_cluster_or_the_switch_is_set() {
        let c = Config::load(br#"{"upstream_auth":"envoy","client_auth":false}"#, &|_| {
            None
        })
        .unwrap();
        assert!(!c.image_fetch.enabled());
        assert_eq!(c.image_fetch.max_bytes, 3_750_000);
        assert_eq!(c.image_fetch.timeout.as_millis(), 10_000);

        let env = env_of(&[
            ("IMAGE_FETCH", "on"),
            ("IMAGE_FETCH_ALLOWED_HOSTS", " Example.com, .cdn.net ,"),
        ]);
        let c = Config::load(br#"{"upstream_auth":"envoy","client_auth":false}"#, &env).unwrap();
        assert_eq!(
            c.image_fetch.https_cluster.as_deref(),
            Some("image_fetch_tls")
        );
        assert_eq!(
            c.image_fetch.http_cluster.as_deref(),
            Some("image_fetch_plain")
        );
        assert_eq!(c.image_fetch.allowed_hosts, ["example.com", "cdn.net"]);

        let json = br#"{"upstream_auth":"envoy","client_auth":false,
            "image_fetch_cluster":"img","image_fetch_timeout_ms":500,
            "image_fetch_max_bytes":1000,"image_fetch_allowed_hosts":["127.0.0.1"]}"#;
        let c = Config::load(json, &|_| None).unwrap();
        assert_eq!(c.image_fetch.https_cluster.as_deref(), Some("img"));
        assert_eq!(c.image_fetch.http_cluster, None);
        assert_eq!(c.image_fetch.timeout.as_millis(), 500);
        assert_eq!(c.image_fetch.max_bytes, 1000);
        assert_eq!(c.image_fetch.allowed_hosts, ["127.0.0.1"]);
    }

    #[test]
    fn bad_image_fetch_settings_name_the_field() {
        let base = r#""upstream_auth":"envoy","client_auth":false"#;
        for (field, value) in [
            ("image_fetch_max_bytes", "4000000"),
            ("image_fetch_max_bytes", "0"),
            ("image_fetch_timeout_ms", "0"),
            ("image_fetch_allowed_hosts", r#"["https://x.com/"]"#),
        ] {
            let json = format!("{{{base},\"{field}\":{value}}}");
            let err = Config::load(json.as_bytes(), &|_| None).unwrap_err();
            assert!(err.starts_with(field), "{err}");
        }
    }

    #[test]
    fn item_store_is_on_by_default_and_configurable() {
        let base = r#""upstream_auth":"envoy","client_auth":false"#;
        let load = |extra: &str| Config::load(format!("{{{base}{extra}}}").as_bytes(), &|_| None);
        assert_eq!(load("").unwrap().responses_item_store, ItemStore::default());
        assert!(load("").unwrap().responses_item_store.enabled);
        let set =
            load(r#","responses_item_store":{"enabled":false,"slots":8,"max_item_bytes":100}"#)
                .unwrap()
                .responses_item_store;
        assert_eq!(
            set,
            ItemStore {
                enabled: false,
                slots: 8,
                max_item_bytes: 100
            }
        );
        for bad in [
            r#"{"slots":0}"#,
            r#"{"slots":2000000}"#,
            r#"{"max_item_bytes":0}"#,
        ] {
            let err = load(&format!(r#","responses_item_store":{bad}"#)).unwrap_err();
            assert!(err.starts_with("responses_item_store"), "{err}");
        }
        let err = load(r#","responses_item_store":{"size":1}"#).unwrap_err();
        assert!(err.contains("unknown field `size`"), "{err}");
    }

    const SONNET: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

    #[test]
    fn default_model_takes_gpt_names_and_a_missing_model_but_not_aliases() {
        let json = format!(
            r#"{{"upstream_auth":"envoy","client_auth":false,"default_model":"{SONNET}",
            "model_aliases":{{"gpt-4o-mini":"anthropic.h"}}}}"#
        );
        let c = Config::load(json.as_bytes(), &|_| None).unwrap();
        for name in ["gpt-4o", "GPT-4-Turbo", "Gpt-3.5-turbo", "gpt-"] {
            assert_eq!(c.resolve_chat_model(Some(name)), Some(SONNET), "{name}");
        }
        assert_eq!(c.resolve_chat_model(None), Some(SONNET));
        assert_eq!(
            c.resolve_chat_model(Some("gpt-4o-mini")),
            Some("anthropic.h")
        );
        for other in ["o3-mini", "gpt4o", "chatgpt-4o", "anthropic.claude-3"] {
            assert_eq!(c.resolve_chat_model(Some(other)), Some(other));
        }
        // Without a default nothing is substituted, and a missing model stays missing.
        let plain = Config::load(br#"{"upstream_auth":"envoy","client_auth":false}"#, &|_| {
            None
        })
        .unwrap();
        assert_eq!(plain.resolve_chat_model(Some("gpt-4o")), Some("gpt-4o"));
        assert_eq!(plain.resolve_chat_model(None), None);
    }

    #[test]
    fn default_models_come_from_the_environment_and_may_be_aliases() {
        let env = env_of(&[
            ("DEFAULT_MODEL", "sonnet"),
            ("DEFAULT_EMBEDDING_MODEL", "cohere.embed-multilingual-v3"),
        ]);
        let json = format!(
            r#"{{"upstream_auth":"envoy","client_auth":false,"model_aliases":{{"sonnet":"{SONNET}"}}}}"#
        );
        let c = Config::load(json.as_bytes(), &env).unwrap();
        assert_eq!(c.default_model.as_deref(), Some("sonnet"));
        assert_eq!(c.resolve_chat_model(Some("gpt-5.1-codex")), Some(SONNET));
        for name in ["text-embedding-3-small", "Text-Embedding-Ada-002"] {
            assert_eq!(
                c.resolve_embedding_model(name),
                "cohere.embed-multilingual-v3"
            );
        }
        assert_eq!(
            c.resolve_embedding_model("amazon.titan-embed-text-v2:0"),
            "amazon.titan-embed-text-v2:0"
        );
        assert_eq!(c.resolve_embedding_model("embedding-3"), "embedding-3");
        let unset = Config::load(br#"{"upstream_auth":"envoy","client_auth":false}"#, &|_| {
            None
        })
        .unwrap();
        assert_eq!(
            unset.resolve_embedding_model("text-embedding-3-small"),
            "text-embedding-3-small"
        );
    }

    #[test]
    fn allow_lists_judge_the_default_model_not_the_name_sent() {
        let json = format!(
            r#"{{"upstream_auth":"envoy","default_model":"{SONNET}","allowed_models":["{SONNET}","h"],
            "api_keys":[{{"name":"wide","key":"kw"}},{{"name":"narrow","key":"kn","models":["h"]}}]}}"#
        );
        let c = Config::load(json.as_bytes(), &|_| None).unwrap();
        let id = c.resolve_chat_model(Some("gpt-4o")).unwrap();
        assert!(c.model_allowed(Some("wide"), id));
        assert!(!c.model_allowed(Some("narrow"), id));
    }

    #[test]
    fn bad_default_models_stop_the_filter() {
        let base = r#""upstream_auth":"envoy","client_auth":false"#;
        for (field, value) in [
            ("default_model", "bad model/../x"),
            (
                "default_embedding_model",
                "anthropic.claude-3-haiku-20240307-v1:0",
            ),
        ] {
            let json = format!(r#"{{{base},"{field}":"{value}"}}"#);
            let err = Config::load(json.as_bytes(), &|_| None).unwrap_err();
            assert!(err.starts_with(field), "{err}");
        }
        let env = env_of(&[("DEFAULT_EMBEDDING_MODEL", "text-embedding-3-small")]);
        let err = Config::load(format!("{{{base}}}").as_bytes(), &env).unwrap_err();
        assert!(err.starts_with("default_embedding_model"), "{err}");
    }

    #[test]
    fn enable_prompt_caching_reads_yes_and_no_in_any_case_and_refuses_the_rest() {
        let json = br#"{"upstream_auth":"envoy","client_auth":false}"#;
        let caching = |value: &'static str| {
            let env = move |k: &str| (k == "ENABLE_PROMPT_CACHING").then(|| value.to_string());
            Config::load(json, &env).map(|c| c.prompt_caching)
        };
        for on in ["true", "True", "TRUE", "1", "yes", "Yes"] {
            assert_eq!(caching(on), Ok(true), "{on}");
        }
        for off in ["false", "False", "0", "no", "NO", ""] {
            assert_eq!(caching(off), Ok(false), "{off:?}");
        }
        for bad in ["on", "enabled", "2", "tru"] {
            let err = caching(bad).unwrap_err();
            assert!(err.starts_with("ENABLE_PROMPT_CACHING"), "{err}");
        }
        // The plugin configuration's boolean wins over the variable.
        let env = |k: &str| (k == "ENABLE_PROMPT_CACHING").then(|| "bogus".to_string());
        let c = Config::load(
            br#"{"upstream_auth":"envoy","client_auth":false,"prompt_caching":true}"#,
            &env,
        )
        .unwrap();
        assert!(c.prompt_caching);
    }

    #[test]
    fn constant_time_eq_matches_only_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(!constant_time_eq(b"a", b""));
    }

    #[test]
    fn endpoint_url_errors_never_echo_credentials() {
        for url in [
            "https://AKIDEXAMPLE:s3cr3t@bedrock.example.com/x?token=abc",
            "ftp://user:s3cr3t@host/?sig=abc",
        ] {
            let json = format!(
                r#"{{"upstream_auth":"envoy","client_auth":false,"endpoint_url":"{url}"}}"#
            );
            let err = Config::load(json.as_bytes(), &|_| None).unwrap_err();
            assert!(err.starts_with("endpoint_url"), "{err}");
            assert!(
                !err.contains("s3cr3t") && !err.contains("abc") && !err.contains("AKID"),
                "{err}"
            );
        }
    }
}
