//! Plugin configuration: the JSON in Envoy's `configuration` field, completed from environment
//! variables the VM may read (`vm_config.environment_variables.host_env_keys`). Validated once
//! at load time so a bad configuration stops the filter instead of serving wrongly.

use crate::error::ApiError;
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
    image_fetch_cluster: Option<String>,
    image_fetch_http_cluster: Option<String>,
    image_fetch_timeout_ms: Option<u64>,
    image_fetch_max_bytes: Option<usize>,
    image_fetch_allowed_hosts: Option<Vec<String>>,
    responses_item_store: Option<RawItemStore>,
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
        .ok_or_else(|| format!("endpoint_url must start with http:// or https://, got {url:?}"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err(format!("endpoint_url has no valid host: {url:?}"));
    }
    Ok(host.to_string())
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
                    let (name, key, models) = match key {
                        RawKey::Plain(key) => {
                            (format!("key{}", i.saturating_add(1)), key, Vec::new())
                        }
                        RawKey::Named { name, key, models } => (name, key, models),
                    };
                    client_keys.push(ClientKey { name, key, models });
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
        Ok(Config {
            region,
            runtime_host,
            upstream_auth,
            client_keys,
            client_auth,
            max_request_bytes,
            model_aliases,
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
            prompt_caching: raw
                .prompt_caching
                .or_else(|| get("ENABLE_PROMPT_CACHING").map(|v| v == "true" || v == "1"))
                .unwrap_or(false),
            interleaved_thinking: raw
                .interleaved_thinking
                .or_else(|| get("ENABLE_INTERLEAVED_THINKING").map(|v| v == "true" || v == "1"))
                .unwrap_or(false),
            image_fetch,
            responses_item_store: item_store(raw.responses_item_store)?,
            // On only where client keys guard it, unless the operator says otherwise.
            bedrock_passthrough: raw.bedrock_passthrough.unwrap_or(client_auth),
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

    /// Whether the key named `key_name` may use Bedrock model `model_id`. Allow-lists may
    /// name aliases or ids; both the global list and the key's own list must admit the model.
    pub fn model_allowed(&self, key_name: Option<&str>, model_id: &str) -> bool {
        let admits = |list: &[String]| {
            list.is_empty() || list.iter().any(|m| self.resolve_model(m) == model_id)
        };
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

    #[test]
    fn constant_time_eq_matches_only_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(!constant_time_eq(b"a", b""));
    }
}
