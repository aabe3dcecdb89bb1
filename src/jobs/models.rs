//! `/v1/models`: the live list from the Bedrock control plane (cached per VM) or the static
//! list in the configuration, plus the configured aliases.

use crate::api::models::{answer, owner, ModelEntry, ModelsRequest};
use crate::bedrock::control_plane::{
    FoundationModels, InferenceProfile, InferenceProfiles, LIST_FOUNDATION_MODELS,
    LIST_INFERENCE_PROFILES,
};
use crate::bedrock::errors::bedrock_error;
use crate::config::{Config, ModelsSource};
use crate::error::ApiError;
use crate::step::Step;
use crate::upstream::calls::{encode_query_value, signed_call, CallResponse, Target};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

const CONTROL_PLANE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds a control plane that keeps answering with a next page.
const MAX_PROFILE_PAGES: usize = 20;

/// The last list fetched from Bedrock, shared by every request of one VM.
#[derive(Debug, Default)]
pub struct ModelCache {
    list: Option<(Vec<ModelEntry>, SystemTime)>,
    /// Application inference profile ARN → the foundation model behind it (None: the control
    /// plane could not say), with when it was asked.
    profiles: BTreeMap<String, (Option<String>, SystemTime)>,
}

/// Application profiles remembered per VM (clients name any ARN; the oldest goes first).
const MAX_PROFILES: usize = 256;

impl ModelCache {
    /// The cached list if it is younger than `ttl`.
    pub fn fresh(&self, now: SystemTime, ttl: Duration) -> Option<&[ModelEntry]> {
        let (list, fetched) = self.list.as_ref()?;
        let age = now.duration_since(*fetched).unwrap_or(Duration::ZERO);
        (age < ttl).then_some(list.as_slice())
    }

    /// The cached list however old: better than an error when Bedrock cannot be reached.
    pub fn last(&self) -> Option<&[ModelEntry]> {
        self.list.as_ref().map(|(l, _)| l.as_slice())
    }

    pub fn store(&mut self, list: Vec<ModelEntry>, now: SystemTime) {
        self.list = Some((list, now));
    }

    /// What is known of an application profile: `Some(Some(model))`, `Some(None)` when the
    /// control plane could not say, `None` when it was not asked within `ttl`.
    pub fn profile_model(&self, arn: &str, now: SystemTime, ttl: Duration) -> Option<Option<&str>> {
        let (model, asked) = self.profiles.get(arn)?;
        let age = now.duration_since(*asked).unwrap_or(Duration::ZERO);
        (age < ttl).then_some(model.as_deref())
    }

    pub fn learn_profile(&mut self, arn: &str, model: Option<String>, now: SystemTime) {
        if self.profiles.len() >= MAX_PROFILES && !self.profiles.contains_key(arn) {
            let oldest = self
                .profiles
                .iter()
                .min_by_key(|(_, (_, asked))| *asked)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.profiles.remove(&oldest);
            }
        }
        self.profiles.insert(arn.to_string(), (model, now));
    }
}

/// Whether a model id is an application inference profile, which names no model.
pub fn is_application_profile(model_id: &str) -> bool {
    model_id.starts_with("arn:") && model_id.contains(":application-inference-profile/")
}

/// The models a client can call, from the two control-plane listings: active text models
/// by their own id when they run on demand, and active inference profiles (system-defined by
/// id, application profiles by ARN) whose model is such a text model.
pub fn build_list(foundation: &FoundationModels, profiles: &[InferenceProfile]) -> Vec<ModelEntry> {
    let text_models: BTreeMap<&str, bool> = foundation
        .model_summaries
        .iter()
        .filter(|m| {
            m.is_active_text_model() && (m.supports("ON_DEMAND") || m.supports("INFERENCE_PROFILE"))
        })
        .map(|m| (m.model_id.as_str(), m.supports("ON_DEMAND")))
        .collect();
    let mut list: Vec<ModelEntry> = text_models
        .iter()
        .filter(|(_, on_demand)| **on_demand)
        .map(|(id, _)| ModelEntry::new(id))
        .collect();
    for profile in profiles {
        let active = profile.status.is_empty() || profile.status == "ACTIVE";
        let Some(model) = profile.models.first().map(|m| m.model_id()) else {
            continue;
        };
        if !active || !text_models.contains_key(model) {
            continue;
        }
        let id = match profile.kind.as_str() {
            "APPLICATION" => profile.inference_profile_arn.as_str(),
            _ => profile.inference_profile_id.as_str(),
        };
        if !id.is_empty() {
            list.push(ModelEntry {
                id: id.to_string(),
                owned_by: owner(model).to_string(),
            });
        }
    }
    list.sort();
    list.dedup_by(|a, b| a.id == b.id);
    list
}

/// The configured list when `models_source` is `static`.
pub fn static_list(config: &Config) -> Vec<ModelEntry> {
    config.models.iter().map(|id| ModelEntry::new(id)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Listing {
    FoundationModels,
    Profiles(&'static str),
}

/// Fetches both listings (following inference-profile pages), then answers and caches.
pub struct ModelsJob {
    request: ModelsRequest,
    /// The client key's name, for its model allow-list.
    key: Option<String>,
    calls: BTreeMap<usize, Listing>,
    next_key: usize,
    pages: usize,
    foundation: Option<FoundationModels>,
    profiles: Vec<InferenceProfile>,
    finished: bool,
}

impl ModelsJob {
    /// Answers from the static list or a fresh cache, or starts the fetch.
    pub fn start(
        config: &Config,
        request: ModelsRequest,
        key: Option<&str>,
        cache: &ModelCache,
        now: SystemTime,
    ) -> (Option<ModelsJob>, Step) {
        if config.models_source == ModelsSource::Static {
            return (
                None,
                Step::Respond(answer(config, &request, &static_list(config), key)),
            );
        }
        if let Some(list) = cache.fresh(now, config.models_cache) {
            return (None, Step::Respond(answer(config, &request, list, key)));
        }
        let mut job = ModelsJob {
            request,
            key: key.map(str::to_string),
            calls: BTreeMap::new(),
            next_key: 0,
            pages: 0,
            foundation: None,
            profiles: Vec::new(),
            finished: false,
        };
        let listings = [
            Listing::FoundationModels,
            Listing::Profiles("SYSTEM_DEFINED"),
            Listing::Profiles("APPLICATION"),
        ];
        let mut calls = Vec::new();
        for listing in listings {
            match job.call(config, listing, None, now) {
                Ok(call) => calls.push(call),
                Err(e) => return (None, Step::error(&e)),
            }
        }
        (Some(job), Step::Dispatch(calls))
    }

    fn call(
        &mut self,
        config: &Config,
        listing: Listing,
        next_token: Option<&str>,
        now: SystemTime,
    ) -> Result<crate::upstream::calls::OutboundCall, ApiError> {
        let path = match listing {
            Listing::FoundationModels => format!("{LIST_FOUNDATION_MODELS}?byOutputModality=TEXT"),
            Listing::Profiles(kind) => {
                let mut path = format!("{LIST_INFERENCE_PROFILES}?maxResults=1000&type={kind}");
                if let Some(token) = next_token {
                    path.push_str("&nextToken=");
                    path.push_str(&encode_query_value(token));
                }
                path
            }
        };
        let key = self.next_key;
        self.next_key = self.next_key.saturating_add(1);
        self.calls.insert(key, listing);
        let target = Target {
            cluster: &config.control_plane_cluster,
            host: &config.control_plane_host,
            timeout: CONTROL_PLANE_TIMEOUT,
        };
        signed_call(config, &target, key, "GET", &path, Vec::new(), now)
    }

    pub fn on_response(
        &mut self,
        config: &Config,
        key: usize,
        response: CallResponse,
        cache: &mut ModelCache,
        now: SystemTime,
    ) -> Step {
        if self.finished {
            return Step::Pause;
        }
        let Some(listing) = self.calls.remove(&key) else {
            return Step::Pause;
        };
        match self.absorb(config, listing, &response, now) {
            Ok(Some(call)) => return Step::Dispatch(vec![call]),
            Ok(None) => {}
            Err(e) => {
                self.finished = true;
                // A stale list beats an error while Bedrock's control plane is away.
                return match cache.last() {
                    Some(list) => {
                        log::warn!("model list: {}; serving the last list fetched", e.message);
                        Step::Respond(answer(config, &self.request, list, self.key.as_deref()))
                    }
                    None => Step::error(&e),
                };
            }
        }
        if !self.calls.is_empty() {
            return Step::Pause;
        }
        self.finished = true;
        let foundation = self.foundation.take().unwrap_or_default();
        let list = build_list(&foundation, &self.profiles);
        let reply = answer(config, &self.request, &list, self.key.as_deref());
        cache.store(list, now);
        Step::Respond(reply)
    }

    /// Keeps one listing's page; returns the call for the next page, if any.
    fn absorb(
        &mut self,
        config: &Config,
        listing: Listing,
        response: &CallResponse,
        now: SystemTime,
    ) -> Result<Option<crate::upstream::calls::OutboundCall>, ApiError> {
        if let Some(reason) = response.unreachable() {
            return Err(ApiError::new(
                503,
                "server_error",
                format!("Could not reach the Bedrock control plane to list models ({reason})."),
            )
            .with_code("service_unavailable"));
        }
        if response.status != 200 {
            let e = bedrock_error(
                response.status,
                response.header("x-amzn-errortype"),
                &response.body,
            );
            return Err(ApiError::bad_gateway(format!(
                "Listing models failed: {} (HTTP {} from the Bedrock control plane).",
                e.message, response.status
            )));
        }
        let malformed = |e: serde_json::Error| {
            ApiError::bad_gateway(format!(
                "The Bedrock control plane sent a model list we could not read: {e}"
            ))
        };
        match listing {
            Listing::FoundationModels => {
                self.foundation = Some(serde_json::from_slice(&response.body).map_err(malformed)?);
                Ok(None)
            }
            Listing::Profiles(_) => {
                let page: InferenceProfiles =
                    serde_json::from_slice(&response.body).map_err(malformed)?;
                self.profiles.extend(page.inference_profile_summaries);
                self.pages = self.pages.saturating_add(1);
                match page.next_token.filter(|t| !t.is_empty()) {
                    Some(token) if self.pages < MAX_PROFILE_PAGES => {
                        self.call(config, listing, Some(&token), now).map(Some)
                    }
                    _ => Ok(None),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_reply::LocalReply;
    use crate::upstream::calls::OutboundCall;
    use serde_json::{json, Value};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config(extra: &str) -> Config {
        crate::test_support::signing_config(extra, &[])
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn fm(id: &str, outputs: &[&str], types: &[&str], status: &str) -> Value {
        json!({"modelId": id, "providerName": "X", "outputModalities": outputs,
               "inferenceTypesSupported": types, "modelLifecycle": {"status": status}})
    }

    fn foundation() -> Value {
        json!({"modelSummaries": [
            fm("anthropic.claude-3-haiku-20240307-v1:0", &["TEXT"], &["ON_DEMAND"], "ACTIVE"),
            fm("anthropic.claude-sonnet-4-20250514-v1:0", &["TEXT"], &["INFERENCE_PROFILE"], "ACTIVE"),
            fm("anthropic.claude-3-5-sonnet-20240620-v1:0", &["TEXT"], &["ON_DEMAND"], "LEGACY"),
            fm("amazon.titan-embed-text-v2:0", &["EMBEDDING"], &["ON_DEMAND"], "ACTIVE"),
            fm("meta.llama-provisioned", &["TEXT"], &["PROVISIONED"], "ACTIVE"),
        ]})
    }

    fn profile(id: &str, kind: &str, model: &str) -> Value {
        json!({"inferenceProfileId": id, "type": kind, "status": "ACTIVE",
               "inferenceProfileArn": format!("arn:aws:bedrock:us-east-1:123:inference-profile/{id}"),
               "models": [{"modelArn": format!("arn:aws:bedrock:us-east-1::foundation-model/{model}")}]})
    }

    fn ids(reply: &LocalReply) -> Vec<String> {
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn ok(body: Value) -> CallResponse {
        CallResponse {
            status: 200,
            headers: vec![],
            body: body.to_string().into_bytes(),
        }
    }

    fn path(call: &OutboundCall) -> &str {
        &call.headers.iter().find(|(n, _)| n == ":path").unwrap().1
    }

    #[test]
    fn list_keeps_active_text_models_and_their_profiles() {
        let foundation: FoundationModels = serde_json::from_value(foundation()).unwrap();
        let profiles: Vec<InferenceProfile> = [
            profile(
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                "SYSTEM_DEFINED",
                "anthropic.claude-sonnet-4-20250514-v1:0",
            ),
            profile(
                "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
                "SYSTEM_DEFINED",
                "anthropic.claude-3-5-sonnet-20240620-v1:0",
            ),
            profile(
                "us.amazon.titan-embed-text-v2:0",
                "SYSTEM_DEFINED",
                "amazon.titan-embed-text-v2:0",
            ),
            profile(
                "app1",
                "APPLICATION",
                "anthropic.claude-3-haiku-20240307-v1:0",
            ),
        ]
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
        let list = build_list(&foundation, &profiles);
        let ids: Vec<&str> = list.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "anthropic.claude-3-haiku-20240307-v1:0",
                "arn:aws:bedrock:us-east-1:123:inference-profile/app1",
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
            ]
        );
        assert!(list.iter().all(|m| m.owned_by == "anthropic"));
    }

    #[test]
    fn fetch_follows_pages_then_answers_and_caches() {
        let cfg = config(r#"{"model_aliases":{"fast":"anthropic.claude-3-haiku-20240307-v1:0"}}"#);
        let mut cache = ModelCache::default();
        let (job, step) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(0));
        let mut job = job.unwrap();
        let Step::Dispatch(calls) = step else {
            panic!("{step:?}")
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(path(&calls[0]), "/foundation-models?byOutputModality=TEXT");
        assert_eq!(
            path(&calls[1]),
            "/inference-profiles?maxResults=1000&type=SYSTEM_DEFINED"
        );
        assert!(calls.iter().all(|c| c.cluster == "bedrock_control_plane"));

        let step = job.on_response(&cfg, 0, ok(foundation()), &mut cache, t(1));
        assert_eq!(step, Step::Pause);
        let first_page = json!({"inferenceProfileSummaries": [], "nextToken": "tok+/="});
        let Step::Dispatch(next) = job.on_response(&cfg, 1, ok(first_page), &mut cache, t(1))
        else {
            panic!()
        };
        assert_eq!(
            path(&next[0]),
            "/inference-profiles?maxResults=1000&type=SYSTEM_DEFINED&nextToken=tok%2B%2F%3D"
        );
        let page2 = json!({"inferenceProfileSummaries": [profile(
            "us.anthropic.claude-sonnet-4-20250514-v1:0", "SYSTEM_DEFINED",
            "anthropic.claude-sonnet-4-20250514-v1:0")]});
        assert_eq!(
            job.on_response(&cfg, next[0].key, ok(page2), &mut cache, t(2)),
            Step::Pause
        );
        let apps = json!({"inferenceProfileSummaries": []});
        let Step::Respond(reply) = job.on_response(&cfg, 2, ok(apps), &mut cache, t(2)) else {
            panic!()
        };
        assert_eq!(
            ids(&reply),
            [
                "anthropic.claude-3-haiku-20240307-v1:0",
                "fast",
                "us.anthropic.claude-sonnet-4-20250514-v1:0"
            ]
        );
        // Within the TTL the cache answers without any call; after it, Bedrock is asked again.
        let (job, step) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(200));
        assert!(job.is_none());
        assert!(matches!(step, Step::Respond(r) if ids(&r).len() == 3));
        let (job, _) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(400));
        assert!(job.is_some());
    }

    #[test]
    fn control_plane_down_serves_last_list_else_503() {
        let cfg = config("{}");
        let mut cache = ModelCache::default();
        let (job, _) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(0));
        let mut job = job.unwrap();
        let Step::Respond(reply) = job.on_response(
            &cfg,
            0,
            CallResponse::failed("connection refused"),
            &mut cache,
            t(0),
        ) else {
            panic!()
        };
        assert_eq!(reply.status, 503);
        assert!(String::from_utf8_lossy(&reply.body).contains("connection refused"));
        // Later answers of the same job are ignored.
        assert_eq!(
            job.on_response(&cfg, 1, ok(json!({})), &mut cache, t(0)),
            Step::Pause
        );

        cache.store(vec![ModelEntry::new("amazon.nova-pro-v1:0")], t(0));
        let (job, _) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(10_000));
        let mut job = job.unwrap();
        let denied = CallResponse {
            status: 403,
            headers: vec![("x-amzn-errortype".into(), "AccessDeniedException:".into())],
            body: br#"{"message":"not allowed"}"#.to_vec(),
        };
        let Step::Respond(reply) = job.on_response(&cfg, 0, denied, &mut cache, t(10_000)) else {
            panic!()
        };
        assert_eq!(ids(&reply), ["amazon.nova-pro-v1:0"]);
    }

    #[test]
    fn control_plane_error_without_cache_is_502_with_bedrock_message() {
        let cfg = config("{}");
        let mut cache = ModelCache::default();
        let (job, _) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(0));
        let denied = CallResponse {
            status: 403,
            headers: vec![],
            body:
                br#"{"message":"User is not authorized to perform bedrock:ListFoundationModels"}"#
                    .to_vec(),
        };
        let Step::Respond(reply) = job.unwrap().on_response(&cfg, 0, denied, &mut cache, t(0))
        else {
            panic!()
        };
        assert_eq!(reply.status, 502);
        assert!(String::from_utf8_lossy(&reply.body).contains("bedrock:ListFoundationModels"));
    }

    #[test]
    fn keys_see_only_the_models_they_may_use() {
        let cfg = config(
            r#"{"models":["amazon.nova-pro-v1:0","amazon.nova-lite-v1:0"],
                "model_aliases":{"lite":"amazon.nova-lite-v1:0"},
                "api_keys":["k0",{"name":"team","key":"k1","models":["lite"]}]}"#,
        );
        let cache = ModelCache::default();
        let (_, step) = ModelsJob::start(&cfg, ModelsRequest::List, Some("team"), &cache, t(0));
        let Step::Respond(reply) = step else { panic!() };
        assert_eq!(ids(&reply), ["amazon.nova-lite-v1:0", "lite"]);
        let get = ModelsRequest::Get("amazon.nova-pro-v1:0".into());
        let (_, step) = ModelsJob::start(&cfg, get, Some("team"), &cache, t(0));
        assert!(matches!(step, Step::Respond(r) if r.status == 404));
        let (_, step) = ModelsJob::start(&cfg, ModelsRequest::List, Some("key1"), &cache, t(0));
        let Step::Respond(reply) = step else { panic!() };
        assert_eq!(ids(&reply).len(), 3);
    }

    #[test]
    fn static_source_lists_models_and_aliases_and_gets_one_or_404() {
        let cfg = config(
            r#"{"models":["amazon.nova-pro-v1:0"],"model_aliases":{"claude":"us.anthropic.claude-sonnet-4-20250514-v1:0"}}"#,
        );
        let cache = ModelCache::default();
        let (job, step) = ModelsJob::start(&cfg, ModelsRequest::List, None, &cache, t(0));
        assert!(job.is_none());
        let Step::Respond(reply) = step else { panic!() };
        assert_eq!(ids(&reply), ["amazon.nova-pro-v1:0", "claude"]);
        let (_, step) = ModelsJob::start(
            &cfg,
            ModelsRequest::Get("claude".into()),
            None,
            &cache,
            t(0),
        );
        let Step::Respond(reply) = step else { panic!() };
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(v["owned_by"], "anthropic");
        assert_eq!(v["object"], "model");
        let (_, step) =
            ModelsJob::start(&cfg, ModelsRequest::Get("nope".into()), None, &cache, t(0));
        let Step::Respond(reply) = step else { panic!() };
        assert_eq!(reply.status, 404);
    }
}
