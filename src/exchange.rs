//! One client request and its Bedrock response, as a state machine the proxy-wasm shell drives.
//! The shell hands in headers, body bytes and the answers to the filter's own calls; this
//! decides every next step (answer locally, wait, make calls, forward rewritten) and how to
//! rewrite what comes back. It never calls the host.

use crate::api::models::ModelsRequest;
use crate::api::passthrough::usage::UsageReader;
use crate::api::responses::item_store;
use crate::api::{
    chat, messages, models, passthrough, responses, AnswerTranslator, ErrorShape, RequestContext,
};
use crate::bedrock::converse::Usage;
use crate::bedrock::errors::{bedrock_error, scrub};
use crate::bedrock::model_id::{answers_as_event_stream, runtime_path, validate_model_id};
use crate::config::{Config, ItemStore};
use crate::error::ApiError;
use crate::jobs::embeddings::EmbeddingsJob;
use crate::jobs::image_fetch::{ImageFetchJob, Progress};
use crate::jobs::models::{is_application_profile, ModelCache, ModelsJob};
use crate::jobs::profiles::{self, ProfilesJob};
use crate::local_reply::LocalReply;
use crate::observability::{self, Outcome, Summary};
use crate::policy::fallback::{self, Choice};
use crate::policy::quota::{self, Standing};
use crate::policy::SharedStore;
use crate::router::{self, Endpoint, RuntimeAction, RuntimeCall};
use crate::step::Step;
use crate::upstream::calls::CallResponse;
use crate::upstream::request::{signed_headers, Signed, UpstreamRequest};
use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the client sent besides the body.
#[derive(Default)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub authorization: Option<&'a str>,
    /// Envoy's `x-request-id`, used to make response ids unique.
    pub request_id: Option<&'a str>,
    /// Every request header name, so client-supplied secrets and AWS headers can be dropped.
    pub header_names: Vec<String>,
    /// `x-api-key` (Anthropic's SDKs send the key there).
    pub api_key: Option<&'a str>,
    /// `anthropic-version` and `anthropic-beta` (Messages API clients).
    pub anthropic_version: Option<&'a str>,
    pub anthropic_beta: Option<&'a str>,
    /// The client's `x-amzn-bedrock-*` headers (Bedrock's own API: its guardrail choice).
    pub bedrock_headers: Vec<(String, String)>,
}

/// What the core needs from the host besides a callback's own data: the clock (read only
/// when needed) and the VM's model-list cache. The shell passes its host calls; tests fakes.
pub struct Host<'a> {
    pub now: &'a dyn Fn() -> SystemTime,
    pub models: &'a RefCell<ModelCache>,
    /// Envoy's shared data (quota counters).
    pub shared: &'a dyn SharedStore,
}

/// What to do with the response headers.
#[derive(Debug, Default, PartialEq)]
pub struct ResponseHeaders {
    pub status: Option<u16>,
    pub set_headers: Vec<(String, String)>,
    pub remove_headers: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum BodyAction {
    /// Keep buffering; the shell pauses until the end of the body.
    Buffer,
    /// Replace the bytes seen in this callback with these (possibly none).
    Replace(Vec<u8>),
    /// Leave the bytes as they are.
    Pass,
}

/// An endpoint the filter answers from its own calls, before and while they run.
enum LocalJob {
    ModelsFetch(ModelsJob),
    /// ListInferenceProfiles / GetInferenceProfile for a Bedrock-native client.
    Profiles(ProfilesJob),
    /// Waiting for the embeddings request body.
    EmbeddingsBody,
    Embeddings(Box<EmbeddingsJob>),
}

/// Why a translated request was not sent (yet).
enum NotSent {
    Reply(LocalReply),
    /// Ask the control plane which model this application profile runs, then translate again.
    LookUp(String),
}

/// A request held until it is translated: what its headers said.
#[derive(Clone)]
struct Held {
    endpoint: Endpoint,
    request_id: String,
    drop_headers: Vec<String>,
    /// The client's `anthropic-beta` header (Messages API).
    betas: Option<String>,
}

enum State {
    Start,
    /// Headers checked; waiting for the whole request body.
    Pending(Held),
    /// The request names remote images: fetching them before it is translated.
    FetchingImages {
        held: Held,
        job: Box<ImageFetchJob>,
    },
    /// The request names an application inference profile whose model is not known yet:
    /// asking the control plane, then translating for that model.
    LookingUpProfile {
        held: Held,
        body: Vec<u8>,
        arn: String,
    },
    /// Bedrock's own API: waiting for the body to re-sign it for `path`.
    PendingPassthrough {
        path: String,
        action: RuntimeAction,
        drop_headers: Vec<String>,
        /// The client's InvokeModel guardrail headers.
        guardrail_headers: Vec<(String, String)>,
    },
    /// Bedrock's own API sent on; its answer passes untouched while its usage is read.
    Passing(UsageReader),
    /// Bedrock's own API answered with an error: passed on once cleaned of echoed secrets.
    PassingError,
    /// Request sent; the answer translator waits for Bedrock's answer.
    Sent(AnswerTranslator),
    /// Answered by the filter's own calls (model list, embeddings); nothing is routed.
    Local(LocalJob),
    /// Envoy's rate limit filter refused the request (`x-envoy-ratelimited`): its answer is
    /// replaced by the client API's rate-limit error.
    RateLimited,
    /// Bedrock answered with an error: collect its body, then rewrite it.
    UpstreamError {
        status: u16,
        error_type: Option<String>,
    },
    Done,
}

pub struct Exchange {
    state: State,
    /// Name of the client key that authenticated, for logs and stats.
    pub key_name: Option<String>,
    pub model: Option<String>,
    /// Status the client gets, and how the request ended (for stats and access logs).
    status: u16,
    outcome: Outcome,
    error_code: Option<String>,
    usage: Option<Usage>,
    stream: bool,
    /// The filter's own calls dispatched and not answered yet.
    calls_in_flight: usize,
    /// The gateway's own errors take the client API's shape.
    error_shape: ErrorShape,
    /// `/v1/models` for an Anthropic client: the list in Anthropic's shape.
    anthropic_models: bool,
    /// The key name and model went to Envoy's filter state with the request.
    request_state_set: bool,
    /// The key's quota standing once the request was admitted under a quota.
    quota: Option<Standing>,
    /// Reads a slot of remembered Responses output items (the shell's shared data).
    item_slots: Option<item_store::SlotSource>,
    /// Set while a Responses answer is on its way whose items are to be remembered.
    remember: Option<ItemStore>,
    /// The request's part of that answer's response record (for `previous_response_id`).
    turn: Option<item_store::Turn>,
    /// Slot writes (key, value) the shell makes once the answer is complete.
    items_to_remember: Vec<(String, Vec<u8>)>,
    /// The entry a `model_fallbacks` list chose for this request.
    fallback: Option<Choice>,
    /// Bedrock throttled the model or found it unavailable: it now cools down.
    cooldown_started: bool,
}

impl Default for Exchange {
    fn default() -> Self {
        Exchange {
            state: State::Start,
            key_name: None,
            model: None,
            status: 0,
            outcome: Outcome::Rejected,
            error_code: None,
            usage: None,
            stream: false,
            calls_in_flight: 0,
            error_shape: ErrorShape::OpenAi,
            anthropic_models: false,
            request_state_set: false,
            quota: None,
            item_slots: None,
            remember: None,
            turn: None,
            items_to_remember: Vec::new(),
            fallback: None,
            cooldown_started: false,
        }
    }
}

/// Usage from any Converse / ConverseStream-shaped JSON answer.
fn usage_of(body: &[u8]) -> Option<Usage> {
    #[derive(serde::Deserialize)]
    struct WithUsage {
        usage: Usage,
    }
    serde_json::from_slice::<WithUsage>(body)
        .ok()
        .map(|w| w.usage)
}

/// Client headers that must not reach Bedrock: its credentials, anything that would change
/// the signature, and compression we could not translate through.
fn headers_to_drop(names: &[String]) -> Vec<String> {
    let mut drop: Vec<String> = names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .filter(|n| {
            n.starts_with("x-amz-")
                || matches!(
                    n.as_str(),
                    "authorization"
                        | "x-api-key"
                        | "api-key"
                        | "cookie"
                        | "accept-encoding"
                        | "transfer-encoding"
                        | "proxy-authorization"
                )
        })
        .collect();
    drop.sort();
    drop.dedup();
    drop
}

/// Bedrock's own request headers (`x-amzn-bedrock-*`), in any letter case.
pub fn is_bedrock_header(name: &str) -> bool {
    name.as_bytes()
        .get(..15)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"x-amzn-bedrock-"))
}

fn not_allowed(model_id: &str) -> ApiError {
    ApiError::new(
        403,
        "permission_error",
        format!("The model '{model_id}' is not allowed for this API key."),
    )
    .with_param("model")
    .with_code("model_not_allowed")
}

fn too_large(config: &Config) -> ApiError {
    ApiError::payload_too_large(format!(
        "Request body is larger than the configured limit of {} bytes.",
        config.max_request_bytes
    ))
}

fn empty_body() -> ApiError {
    ApiError::bad_request("Request body is empty; send a JSON request.")
}

impl Exchange {
    /// Lets Responses requests refer to output items remembered in these slots.
    pub fn with_item_slots(mut self, read: item_store::SlotSource) -> Self {
        self.item_slots = Some(read);
        self
    }

    /// Slot writes (key, value) for the output items of a completed Responses answer; the
    /// shell stores them. Empty until the answer is complete, and after it was taken.
    pub fn take_items_to_remember(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.items_to_remember)
    }

    pub fn on_request_headers(
        &mut self,
        config: &Config,
        head: &RequestHead<'_>,
        end_of_stream: bool,
        host: &Host<'_>,
    ) -> Step {
        let endpoint = match router::route(head.method, head.path) {
            Ok(e) => e,
            Err(e) => return self.refuse(&e),
        };
        if endpoint == Endpoint::Health {
            self.state = State::Done;
            return Step::Respond(LocalReply::json(200, br#"{"status":"ok"}"#.to_vec()));
        }
        self.error_shape = match endpoint {
            Endpoint::Bedrock(_) | Endpoint::Profiles(_) => ErrorShape::Aws,
            Endpoint::Messages | Endpoint::CountTokens => ErrorShape::Anthropic,
            Endpoint::Models | Endpoint::Model(_) if head.anthropic_version.is_some() => {
                self.anthropic_models = true;
                ErrorShape::Anthropic
            }
            _ => ErrorShape::OpenAi,
        };
        if self.error_shape == ErrorShape::Aws && !config.bedrock_passthrough {
            return self.refuse(&ApiError::not_found(
                "Bedrock's own API is not served by this gateway (bedrock_passthrough is off).",
            ));
        }
        // Anthropic's SDKs send the key as `x-api-key`.
        let presented = head
            .authorization
            .map(str::to_string)
            .or_else(|| head.api_key.map(|key| format!("Bearer {key}")));
        match config.authenticate(presented.as_deref()) {
            Ok(name) => self.key_name = name,
            Err(e) => return self.refuse(&e),
        }
        if endpoint.uses_models() {
            if let Err(e) = self.admit(config, host) {
                return self.refuse(&e);
            }
        }
        match endpoint {
            Endpoint::Models => self.start_models(config, ModelsRequest::List, host),
            Endpoint::Model(id) => self.start_models(config, ModelsRequest::Get(id), host),
            Endpoint::Embeddings
            | Endpoint::ChatCompletions
            | Endpoint::Responses
            | Endpoint::Messages
            | Endpoint::CountTokens
                if end_of_stream =>
            {
                self.refuse(&empty_body())
            }
            Endpoint::Embeddings => {
                self.state = State::Local(LocalJob::EmbeddingsBody);
                Step::Pause
            }
            Endpoint::ChatCompletions
            | Endpoint::Responses
            | Endpoint::Messages
            | Endpoint::CountTokens => {
                let mut drop_headers = headers_to_drop(&head.header_names);
                // Bedrock's own request headers (guardrail, trace, service tier) are the
                // gateway's to set on a request it translates.
                drop_headers.extend(
                    head.bedrock_headers
                        .iter()
                        .map(|(n, _)| n.to_ascii_lowercase()),
                );
                if self.error_shape == ErrorShape::Anthropic {
                    // Betas travel in the body, as Bedrock wants them.
                    drop_headers.extend(["anthropic-beta".into(), "anthropic-version".into()]);
                }
                self.state = State::Pending(Held {
                    endpoint,
                    request_id: head.request_id.unwrap_or("").replace('-', ""),
                    drop_headers,
                    betas: head.anthropic_beta.map(str::to_string),
                });
                Step::Pause
            }
            Endpoint::Bedrock(_) if end_of_stream => self.refuse(&empty_body()),
            Endpoint::Bedrock(call) => self.await_passthrough_body(config, call, head),
            Endpoint::Profiles(call) => {
                let key = self.key_name.clone();
                match profiles::start(config, &call, key.as_deref(), (host.now)()) {
                    Ok((job, step)) => {
                        self.state = State::Local(LocalJob::Profiles(job));
                        self.settle_calls(step)
                    }
                    Err(e) => self.refuse(&e),
                }
            }
            Endpoint::Health => Step::Continue,
        }
    }

    /// Counts the request against the key's quota, or refuses it when a budget is spent.
    fn admit(&mut self, config: &Config, host: &Host<'_>) -> Result<(), ApiError> {
        let Some(name) = self.key_name.clone() else {
            return Ok(());
        };
        let Some(limits) = config.quota_for(&name) else {
            return Ok(());
        };
        self.quota = Some(quota::admit(host.shared, &name, &limits, (host.now)())?);
        Ok(())
    }

    /// The request is over: the tokens it used count against the key's quota.
    pub fn on_log(&mut self, host: &Host<'_>) -> Summary {
        let summary = self.summary();
        if let (Some(_), Some(name), Some(usage)) = (&self.quota, &summary.key_name, &summary.usage)
        {
            let tokens = usage.prompt_tokens().saturating_add(usage.output_tokens);
            quota::charge(host.shared, name, tokens, (host.now)());
        }
        summary
    }

    /// Bedrock's own API: the model the client named (alias resolved) must be one its key
    /// may use; the body is then signed as it is.
    fn await_passthrough_body(
        &mut self,
        config: &Config,
        call: RuntimeCall,
        head: &RequestHead<'_>,
    ) -> Step {
        let model_id = config.resolve_model(&call.model_id).to_string();
        if let Err(e) = validate_model_id(&model_id) {
            return self.refuse(&e);
        }
        self.model = Some(model_id.clone());
        if !config.model_allowed(self.key_name.as_deref(), &model_id) {
            return self.refuse(&not_allowed(&model_id));
        }
        self.state = State::PendingPassthrough {
            path: runtime_path(&model_id, call.action.segment()),
            action: call.action,
            drop_headers: headers_to_drop(&head.header_names),
            guardrail_headers: head
                .bedrock_headers
                .iter()
                .filter(|(name, _)| passthrough::guardrail::is_guardrail_header(name))
                .cloned()
                .collect(),
        };
        Step::Pause
    }

    /// Signs the client's Bedrock request for the gateway's credentials; the body goes as sent
    /// but for the key's guardrail.
    fn forward_passthrough(
        &mut self,
        config: &Config,
        path: &str,
        action: RuntimeAction,
        drop_headers: Vec<String>,
        guarded: passthrough::guardrail::Guarded,
        now: SystemTime,
    ) -> Step {
        let streams = action.streams();
        let body = guarded.body;
        let accept = if streams {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        let signed = signed_headers(
            config,
            &Signed {
                method: "POST",
                host: &config.runtime_host,
                path,
                body: &body,
                accept,
            },
            now,
        );
        let mut set_headers = match signed {
            Ok(h) => h,
            Err(e) => return self.refuse(&e),
        };
        set_headers.extend(guarded.set_headers);
        let remove_headers = drop_headers
            .into_iter()
            .filter(|n| !set_headers.iter().any(|(s, _)| s == n))
            .collect();
        self.stream = streams;
        self.state = State::Passing(UsageReader::new(streams));
        Step::Forward(UpstreamRequest {
            set_headers,
            remove_headers,
            body,
            filter_state: self.request_state(),
        })
    }

    /// A request body callback: `size` is what Envoy holds so far; `read` fetches it, and is
    /// called only once the whole body is there and within the limit.
    pub fn on_request_body(
        &mut self,
        config: &Config,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
        host: &Host<'_>,
    ) -> Step {
        let wants_body = matches!(
            self.state,
            State::Pending(_)
                | State::PendingPassthrough { .. }
                | State::Local(LocalJob::EmbeddingsBody)
        );
        if !wants_body {
            return Step::Continue;
        }
        if size > config.max_request_bytes {
            return self.refuse(&too_large(config));
        }
        if !end_of_stream {
            return Step::Pause;
        }
        let body = read();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Local(LocalJob::EmbeddingsBody) => self.start_embeddings(config, &body, host),
            State::PendingPassthrough {
                path,
                action,
                drop_headers,
                guardrail_headers,
            } => {
                let guarded = passthrough::guardrail::guard(
                    &config.guardrail,
                    self.key_name.as_deref(),
                    self.model.as_deref().unwrap_or(""),
                    action,
                    &guardrail_headers,
                    body,
                );
                match guarded {
                    Ok(guarded) => {
                        let now = (host.now)();
                        self.forward_passthrough(config, &path, action, drop_headers, guarded, now)
                    }
                    Err(e) => self.refuse(&e),
                }
            }
            State::Pending(held) => {
                let body = self.apply_fallbacks(config, &held.endpoint, body, host);
                if config.image_fetch.enabled() {
                    match ImageFetchJob::plan(&held.endpoint, &body, &config.image_fetch) {
                        Err(e) => return self.refuse(&e),
                        Ok(Some(job)) => return self.fetch_images(config, held, job),
                        Ok(None) => {}
                    }
                }
                self.send(config, held, &body, host)
            }
            _ => self.refuse(&ApiError::internal(
                "request body arrived in an unexpected state",
            )),
        }
    }

    /// Under a `model_fallbacks` list the request goes to the first entry that is not cooling
    /// down: the body is made to name that model before translation, so it is translated and
    /// signed for it and the answer's `model` names it. Other requests are left as they are.
    fn apply_fallbacks(
        &mut self,
        config: &Config,
        endpoint: &Endpoint,
        body: Vec<u8>,
        host: &Host<'_>,
    ) -> Vec<u8> {
        let fallbacks = &config.model_fallbacks;
        // Embeddings from another model would not be comparable; token counts are not served.
        let served = matches!(
            endpoint,
            Endpoint::ChatCompletions | Endpoint::Responses | Endpoint::Messages
        );
        if fallbacks.is_empty() || !served {
            return body;
        }
        #[derive(serde::Deserialize)]
        struct Named {
            #[serde(default)]
            model: Option<String>,
        }
        // Only the model is read here (the translator reports a malformed body).
        let Ok(Named { model: requested }) = serde_json::from_slice::<Named>(&body) else {
            return body;
        };
        let requested = requested.as_deref();
        let resolved = match endpoint {
            Endpoint::Messages => requested.map(|m| config.resolve_model(m)),
            _ => config.resolve_chat_model(requested),
        };
        let Some(list) = fallbacks.list_for(requested, resolved) else {
            return body;
        };
        let key = self.key_name.as_deref();
        let usable = |m: &str| config.model_allowed(key, m);
        // No entry the key may use: the first, which the allow-list then refuses by name.
        let first = || {
            list.first().map(|m| Choice {
                model_id: m.clone(),
                position: 0,
            })
        };
        let Some(choice) =
            fallback::choose(list, host.shared, (host.now)(), &usable).or_else(first)
        else {
            return body;
        };
        let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(&body) else {
            return body;
        };
        object.insert("model".into(), choice.model_id.clone().into());
        match serde_json::to_vec(&object) {
            Ok(rewritten) => {
                self.fallback = Some(choice);
                rewritten
            }
            Err(_) => body,
        }
    }

    /// One of the filter's own calls answered (`CallResponse::no_answer` and friends when it
    /// could not be made or got no answer).
    pub fn on_call_response(
        &mut self,
        config: &Config,
        key: usize,
        response: CallResponse,
        host: &Host<'_>,
    ) -> Step {
        self.calls_in_flight = self.calls_in_flight.saturating_sub(1);
        let now = || (host.now)();
        let step = match &mut self.state {
            State::Local(LocalJob::ModelsFetch(job)) => match host.models.try_borrow_mut() {
                Ok(mut models) => job.on_response(config, key, response, &mut models, now()),
                // Never borrowed across callbacks; a fresh cache only costs a refetch.
                Err(_) => job.on_response(config, key, response, &mut ModelCache::default(), now()),
            },
            State::Local(LocalJob::Embeddings(job)) => {
                job.on_response(config, key, response, now())
            }
            State::Local(LocalJob::Profiles(job)) => job.on_response(config, response),
            State::LookingUpProfile { .. } => {
                let State::LookingUpProfile { held, body, arn } =
                    std::mem::replace(&mut self.state, State::Done)
                else {
                    return Step::Pause;
                };
                let model = profiles::model_of(&response);
                if let Ok(mut cache) = host.models.try_borrow_mut() {
                    cache.learn_profile(&arn, model, now());
                }
                return self.send(config, held, &body, host);
            }
            State::FetchingImages { job, .. } => {
                match job.on_response(&config.image_fetch, key, response) {
                    Ok(Progress::Calls(calls)) if calls.is_empty() => Step::Pause,
                    Ok(Progress::Calls(calls)) => Step::Dispatch(calls),
                    Ok(Progress::Done(body)) => return self.forward_fetched(config, &body, host),
                    Err(e) => return self.refuse(&e),
                }
            }
            // A late answer after the client was answered: nothing more to do.
            _ => return Step::Pause,
        };
        self.settle_calls(step)
    }

    fn start_models(&mut self, config: &Config, request: ModelsRequest, host: &Host<'_>) -> Step {
        let key = self.key_name.as_deref();
        let now = (host.now)();
        let (job, step) = match host.models.try_borrow() {
            Ok(models) => ModelsJob::start(config, request, key, &models, now),
            Err(_) => ModelsJob::start(config, request, key, &ModelCache::default(), now),
        };
        if let Some(job) = job {
            self.state = State::Local(LocalJob::ModelsFetch(job));
        }
        self.settle_calls(step)
    }

    fn start_embeddings(&mut self, config: &Config, body: &[u8], host: &Host<'_>) -> Step {
        let mut job = match EmbeddingsJob::plan(config, body) {
            Ok(job) => job,
            Err(e) => return self.settle_calls(Step::error(&e)),
        };
        self.model = Some(job.model_id().to_string());
        if !config.model_allowed(self.key_name.as_deref(), job.model_id()) {
            return self.settle_calls(Step::error(&not_allowed(job.model_id())));
        }
        let step = job.begin(config, (host.now)());
        self.state = State::Local(LocalJob::Embeddings(Box::new(job)));
        self.settle_calls(step)
    }

    /// Holds the request while its remote images are fetched (never for a model the key may
    /// not use); `on_call_response` forwards it once they are in.
    fn fetch_images(&mut self, config: &Config, held: Held, mut job: ImageFetchJob) -> Step {
        // `default_model` serves chat and Responses names; only chat takes a missing model.
        let requested = job.requested_model();
        let model_id = match held.endpoint {
            Endpoint::ChatCompletions => config.resolve_chat_model(requested),
            Endpoint::Responses => requested.and_then(|m| config.resolve_chat_model(Some(m))),
            _ => requested.map(|m| config.resolve_model(m)),
        };
        if let Some(model_id) = model_id {
            if !config.model_allowed(self.key_name.as_deref(), model_id) {
                return self.refuse(&not_allowed(model_id));
            }
        }
        let calls = job.begin(&config.image_fetch);
        self.state = State::FetchingImages {
            held,
            job: Box::new(job),
        };
        self.settle_calls(Step::Dispatch(calls))
    }

    /// Every image is in: translate the request with them and send it on.
    fn forward_fetched(&mut self, config: &Config, body: &[u8], host: &Host<'_>) -> Step {
        let State::FetchingImages { held, .. } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Step::Pause;
        };
        self.send(config, held, body, host)
    }

    /// Translates and forwards the request, after asking the control plane which model an
    /// application inference profile runs when that is not known yet.
    fn send(&mut self, config: &Config, held: Held, body: &[u8], host: &Host<'_>) -> Step {
        match self.translate(config, &held, body, host) {
            Ok(upstream) => Step::Forward(upstream),
            Err(NotSent::Reply(reply)) => Step::Respond(reply),
            Err(NotSent::LookUp(arn)) => match profiles::lookup_call(config, &arn, (host.now)()) {
                Ok(call) => {
                    self.state = State::LookingUpProfile {
                        held,
                        body: body.to_vec(),
                        arn,
                    };
                    self.settle_calls(Step::Dispatch(vec![call]))
                }
                Err(e) => self.refuse(&e),
            },
        }
    }

    /// Counts calls going out, records a final answer for stats, and never leaves the client
    /// waiting on nothing: no call in flight and no answer is an error answer.
    fn settle_calls(&mut self, step: Step) -> Step {
        let step = match step {
            Step::Dispatch(calls) => {
                self.calls_in_flight = self.calls_in_flight.saturating_add(calls.len());
                Step::Dispatch(calls)
            }
            Step::Pause if self.calls_in_flight == 0 => Step::error(&ApiError::internal(
                "the gateway's own calls ended without an answer",
            )),
            other => other,
        };
        let step = match step {
            Step::Respond(reply) if self.anthropic_models && reply.status == 200 => Step::Respond(
                LocalReply::json(200, models::in_anthropic_shape(&reply.body)),
            ),
            other => other,
        };
        if let Step::Respond(reply) = &step {
            let called = matches!(self.state, State::Local(_));
            self.outcome = match reply.status {
                s if s < 400 => Outcome::Success,
                _ if called => Outcome::UpstreamError,
                _ => Outcome::Rejected,
            };
            self.status = reply.status;
            self.state = State::Done;
        }
        step
    }

    /// A local error answer; nothing goes upstream.
    fn refuse(&mut self, e: &ApiError) -> Step {
        Step::Respond(self.refusal(e))
    }

    fn refusal(&mut self, e: &ApiError) -> LocalReply {
        self.state = State::Done;
        self.status = e.status;
        self.outcome = Outcome::Rejected;
        self.error_shape.reply(e)
    }

    /// Filter state for the request on its way to Bedrock (set once, so on_log skips it).
    fn request_state(&mut self) -> Vec<(&'static str, String)> {
        self.request_state_set = true;
        observability::request_state(self.key_name.as_deref(), self.model.as_deref())
    }

    /// How the request ended, for stats and access logs.
    pub fn summary(&self) -> Summary {
        let stream_failed =
            matches!(&self.state, State::Sent(AnswerTranslator::Stream(s)) if s.failed());
        let usage = match &self.state {
            State::Sent(AnswerTranslator::Stream(s)) => s.usage().cloned(),
            State::Passing(reader) => reader.usage().cloned(),
            _ => self.usage.clone(),
        };
        Summary {
            status: self.status,
            outcome: if stream_failed {
                Outcome::StreamError
            } else {
                self.outcome
            },
            model: self.model.clone(),
            key_name: self.key_name.clone(),
            error_code: self.error_code.clone(),
            usage,
            stream: self.stream,
            request_state_set: self.request_state_set,
            fallback_used: self.fallback.as_ref().is_some_and(|c| c.position > 0),
            cooldown_started: self.cooldown_started,
        }
    }

    /// Translates and signs a complete request body for Bedrock.
    fn translate(
        &mut self,
        config: &Config,
        held: &Held,
        body: &[u8],
        host: &Host<'_>,
    ) -> Result<UpstreamRequest, NotSent> {
        let now = (host.now)();
        let Held {
            endpoint,
            request_id,
            drop_headers,
            betas,
        } = held;
        let endpoint = endpoint.clone();
        let fallback_id;
        let request_id = if request_id.is_empty() {
            let nanos = now.duration_since(UNIX_EPOCH).map(|d| d.as_nanos());
            fallback_id = format!("{:x}", nanos.unwrap_or(0));
            &fallback_id
        } else {
            request_id
        };
        let store = config.responses_item_store;
        let use_store =
            store.enabled && endpoint == Endpoint::Responses && self.item_slots.is_some();
        let owner = self.key_name.clone().unwrap_or_default();
        let slots = self.item_slots.as_deref();
        let recall = |id: &str| item_store::recall(slots?, &store, &owner, id);
        let cache = host.models.try_borrow().ok();
        let known = |id: &str| {
            let ttl = config.models_cache;
            let model = cache.as_ref()?.profile_model(id, now, ttl)??;
            Some(model.to_string())
        };
        let capability_model = |id: &str| known(id).unwrap_or_else(|| id.to_string());
        let ctx = RequestContext {
            config,
            request_id,
            now,
            recall_item: if use_store { Some(&recall) } else { None },
            key_name: self.key_name.as_deref(),
            capability_model: &capability_model,
        };
        let translated = match endpoint {
            Endpoint::ChatCompletions => chat::translate(body, &ctx),
            Endpoint::Responses => responses::translate(body, &ctx),
            Endpoint::Messages => messages::translate(body, &ctx, betas.as_deref()),
            Endpoint::CountTokens => messages::count_tokens(body, &ctx, betas.as_deref()),
            _ => Err(ApiError::internal("this endpoint takes no request body")),
        };
        let translated = match translated {
            Ok(t) => t,
            Err(e) => return Err(NotSent::Reply(self.refusal(&e))),
        };
        if !config.model_allowed(self.key_name.as_deref(), &translated.model_id) {
            return Err(NotSent::Reply(
                self.refusal(&not_allowed(&translated.model_id)),
            ));
        }
        let unasked = is_application_profile(&translated.model_id)
            && cache.as_ref().is_some_and(|c| {
                c.profile_model(&translated.model_id, now, config.models_cache)
                    .is_none()
            });
        drop(cache);
        if unasked {
            return Err(NotSent::LookUp(translated.model_id));
        }
        // What Bedrock answers with: a streamed client answer may be made from a whole one.
        let accept = if answers_as_event_stream(&translated.path) {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        let signed = signed_headers(
            config,
            &Signed {
                method: "POST",
                host: &config.runtime_host,
                path: &translated.path,
                body: &translated.body,
                accept,
            },
            now,
        );
        let mut set_headers = match signed {
            Ok(h) => h,
            Err(e) => return Err(NotSent::Reply(self.refusal(&e))),
        };
        // Unsigned, as Bedrock takes them: SigV4 covers only the headers it lists.
        set_headers.extend(translated.upstream_headers);
        let remove_headers = drop_headers
            .iter()
            .filter(|n| !set_headers.iter().any(|(s, _)| s == *n))
            .cloned()
            .collect();
        self.model = Some(translated.model_id);
        self.remember = use_store.then_some(store);
        self.turn = translated.turn;
        self.stream = matches!(translated.answer, AnswerTranslator::Stream(_));
        self.state = State::Sent(translated.answer);
        Ok(UpstreamRequest {
            set_headers,
            remove_headers,
            body: translated.body,
            filter_state: self.request_state(),
        })
    }

    /// Bedrock's response headers, read through `header` (`:status`, `x-amzn-errortype`, ...).
    pub fn on_response_headers(
        &mut self,
        config: &Config,
        header: &dyn Fn(&str) -> Option<String>,
        host: &Host<'_>,
    ) -> ResponseHeaders {
        let status = header(":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(502);
        self.note_model_health(config, status, header, host);
        let mut change = self.answer_headers(status, header);
        if let Some(standing) = &self.quota {
            change.set_headers.extend(standing.headers());
        }
        change
    }

    /// Bedrock throttled the model or found it unavailable: a model some fallback list names
    /// cools down, so that the following requests go to the list's next entry.
    fn note_model_health(
        &mut self,
        config: &Config,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
        host: &Host<'_>,
    ) {
        let fallbacks = &config.model_fallbacks;
        let answered = matches!(self.state, State::Sent(_) | State::Passing(_));
        // Envoy's own rate limit is not Bedrock's throttling.
        if status == 200 || !answered || header("x-envoy-ratelimited").is_some() {
            return;
        }
        let Some(model) = self.model.as_deref() else {
            return;
        };
        let error_type = header("x-amzn-errortype");
        if fallbacks.covers(model) && fallback::cools_down(status, error_type.as_deref()) {
            fallbacks.start_cooldown(host.shared, model, (host.now)());
            self.cooldown_started = true;
        }
    }

    fn answer_headers(
        &mut self,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> ResponseHeaders {
        let error_type = header("x-amzn-errortype");
        let error_type = error_type.as_deref();
        match &mut self.state {
            State::Passing(reader) => {
                reader.on_headers(header);
                self.status = status;
                if status == 200 {
                    self.outcome = Outcome::Success;
                    return ResponseHeaders::default();
                }
                if error_type.is_some() {
                    // Bedrock's own error is what a Bedrock client expects.
                    self.outcome = Outcome::UpstreamError;
                    self.state = State::PassingError;
                    return ResponseHeaders {
                        remove_headers: vec!["content-length".into()],
                        ..ResponseHeaders::default()
                    };
                }
                // Bedrock names every error in x-amzn-ErrorType: this one is Envoy's own
                // (rate limit, unreachable or silent upstream), worded in AWS's shape below.
            }
            State::Sent(_) => {}
            _ => return ResponseHeaders::default(),
        }
        if status == 429 && header("x-envoy-ratelimited").is_some() {
            self.status = 429;
            self.outcome = Outcome::Rejected;
            self.error_code = Some("rate_limit_exceeded".into());
            self.state = State::RateLimited;
            return ResponseHeaders {
                status: None,
                set_headers: self.error_headers(429),
                remove_headers: vec!["content-length".into()],
            };
        }
        if status != 200 {
            // Status follows the error type (Bedrock sends throttling as 400 sometimes).
            let mapped = ApiError::from_bedrock(status, error_type.unwrap_or(""), "");
            self.status = mapped.status;
            self.outcome = Outcome::UpstreamError;
            self.error_code = mapped.code.clone();
            self.state = State::UpstreamError {
                status,
                error_type: error_type.map(str::to_string),
            };
            return ResponseHeaders {
                status: Some(mapped.status),
                set_headers: self.error_headers(mapped.status),
                remove_headers: vec!["content-length".into()],
            };
        }
        let State::Sent(answer) = &self.state else {
            return ResponseHeaders::default();
        };
        self.status = 200;
        self.outcome = Outcome::Success;
        let set_headers = match answer {
            AnswerTranslator::Stream(_) => vec![
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            AnswerTranslator::Json(_) => vec![("content-type".into(), "application/json".into())],
        };
        ResponseHeaders {
            status: None,
            set_headers,
            remove_headers: vec!["content-length".into()],
        }
    }

    /// The headers of an error answer the filter words itself, in the client API's shape.
    fn error_headers(&self, status: u16) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".into(), "application/json".into())];
        if self.error_shape == ErrorShape::Aws {
            let kind = passthrough::aws_error_type(status);
            headers.push(("x-amzn-errortype".into(), kind.into()));
        }
        headers
    }

    /// `body` is this callback's bytes when streaming, or everything buffered at the end.
    pub fn on_response_body(
        &mut self,
        config: &Config,
        body: &[u8],
        end_of_stream: bool,
    ) -> BodyAction {
        match &mut self.state {
            State::Passing(reader) => {
                reader.push(body, end_of_stream);
                BodyAction::Pass
            }
            State::Sent(AnswerTranslator::Stream(stream)) => {
                let mut out = stream.push(body);
                if end_of_stream {
                    out.extend(stream.finish());
                }
                if let (Some(output), Some(store)) = (stream.completed_output(), &self.remember) {
                    let owner = self.key_name.as_deref().unwrap_or("");
                    let turn = self.turn.take();
                    self.items_to_remember =
                        item_store::slots_for_answer(output, turn.as_ref(), owner, store);
                    self.remember = None;
                }
                BodyAction::Replace(out)
            }
            State::Sent(AnswerTranslator::Json(_))
            | State::UpstreamError { .. }
            | State::RateLimited
            | State::PassingError
                if !end_of_stream =>
            {
                BodyAction::Buffer
            }
            State::Sent(AnswerTranslator::Json(translator)) => {
                self.usage = usage_of(body);
                let out = translator.translate(body).unwrap_or_else(|e| e.to_body());
                if let Some(store) = self.remember.take() {
                    let owner = self.key_name.as_deref().unwrap_or("");
                    let turn = self.turn.take();
                    self.items_to_remember =
                        item_store::slots_for_response(&out, turn.as_ref(), owner, &store);
                }
                self.state = State::Done;
                BodyAction::Replace(out)
            }
            State::PassingError => {
                let answer: Option<serde_json::Value> = serde_json::from_slice(body).ok();
                let message = answer
                    .as_ref()
                    .and_then(|v| v.get("message").or_else(|| v.get("Message")))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
                let clean = scrub(&message, &config.secrets());
                self.state = State::Done;
                BodyAction::Replace(
                    serde_json::json!({ "message": clean })
                        .to_string()
                        .into_bytes(),
                )
            }
            State::RateLimited => {
                let e = ApiError::new(
                    429,
                    "rate_limit_error",
                    "Rate limit exceeded for this API key or model; retry later.",
                )
                .with_code("rate_limit_exceeded");
                let reply = self.error_shape.reply(&e);
                self.state = State::Done;
                BodyAction::Replace(reply.body)
            }
            State::UpstreamError { status, error_type } => {
                let mut e = bedrock_error(*status, error_type.as_deref(), body);
                e.message = scrub(&e.message, &config.secrets());
                let reply = self.error_shape.reply(&e);
                self.state = State::Done;
                BodyAction::Replace(reply.body)
            }
            State::Start
            | State::Pending(_)
            | State::PendingPassthrough { .. }
            | State::FetchingImages { .. }
            | State::LookingUpProfile { .. }
            | State::Local(_)
            | State::Done => BodyAction::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixed_now;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    fn config(extra: &str) -> Config {
        crate::test_support::signing_config(&format!("{{{extra}}}"), &[])
    }

    /// The host as tests see it: a fixed clock and an empty model cache.
    #[derive(Default)]
    struct TestHost {
        models: RefCell<ModelCache>,
        shared: crate::policy::quota::test_store::MapStore,
    }

    impl TestHost {
        fn host(&self) -> Host<'_> {
            Host {
                now: &fixed_now,
                models: &self.models,
                shared: &self.shared,
            }
        }
    }

    /// The whole body in one callback.
    fn send_body(exchange: &mut Exchange, config: &Config, body: &[u8], host: &Host<'_>) -> Step {
        exchange.on_request_body(config, body.len(), true, &|| body.to_vec(), host)
    }

    fn pending(config: &Config) -> Exchange {
        let mut exchange = Exchange::default();
        let head = RequestHead {
            method: "POST",
            path: "/v1/chat/completions",
            authorization: Some("Bearer k"),
            request_id: Some("r-1"),
            header_names: vec!["authorization".into()],
            ..Default::default()
        };
        let step = exchange.on_request_headers(config, &head, false, &TestHost::default().host());
        assert_eq!(step, Step::Pause);
        exchange
    }

    #[test]
    fn claude_messages_carry_the_keys_guardrail_headers_and_never_the_clients() {
        let config = config(r#""guardrail": {"identifier": "g1", "version": "1"}"#);
        let mut exchange = Exchange::default();
        let head = RequestHead {
            method: "POST",
            path: "/v1/messages",
            authorization: Some("Bearer k"),
            header_names: vec![
                "x-api-key".into(),
                "X-Amzn-Bedrock-Trace".into(),
                "x-amzn-bedrock-guardrailidentifier".into(),
            ],
            bedrock_headers: vec![
                ("X-Amzn-Bedrock-Trace".into(), "ENABLED".into()),
                ("x-amzn-bedrock-guardrailidentifier".into(), "g9".into()),
            ],
            ..Default::default()
        };
        let test_host = TestHost::default();
        let host = test_host.host();
        assert_eq!(
            exchange.on_request_headers(&config, &head, false, &host),
            Step::Pause
        );
        let body = br#"{"model": "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens": 5,
                        "messages": [{"role": "user", "content": "hi"}]}"#;
        let Step::Forward(upstream) = send_body(&mut exchange, &config, body, &host) else {
            panic!("expected the request to go on");
        };
        let set = |name: &str| {
            upstream
                .set_headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            set("x-amzn-bedrock-guardrailidentifier").as_deref(),
            Some("g1")
        );
        assert_eq!(set("x-amzn-bedrock-guardrailversion").as_deref(), Some("1"));
        assert!(upstream
            .remove_headers
            .contains(&"x-amzn-bedrock-trace".to_string()));
        assert!(upstream.remove_headers.contains(&"x-api-key".to_string()));
        assert!(!upstream
            .remove_headers
            .contains(&"x-amzn-bedrock-guardrailidentifier".to_string()));
    }

    fn chat_with(url: &str) -> Vec<u8> {
        serde_json::json!({"model": "anthropic.claude-3-haiku-20240307-v1:0", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]})
        .to_string()
        .into_bytes()
    }

    type SharedSlots = std::rc::Rc<std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>>;

    /// One request through the exchange with Bedrock answering `answer`; returns the client's
    /// body and what went upstream (or the local reply).
    fn exchange_once(
        config: &Config,
        slots: &SharedSlots,
        path: &str,
        key: &str,
        body: serde_json::Value,
        answer: serde_json::Value,
    ) -> Result<(serde_json::Value, serde_json::Value), LocalReply> {
        exchange_once_as(config, slots, path, key, "same-id", body, answer)
    }

    /// [`exchange_once`] with this `x-request-id` (the stem of the response id).
    fn exchange_once_as(
        config: &Config,
        slots: &SharedSlots,
        path: &str,
        key: &str,
        request_id: &str,
        body: serde_json::Value,
        answer: serde_json::Value,
    ) -> Result<(serde_json::Value, serde_json::Value), LocalReply> {
        let reader = slots.clone();
        let mut exchange = Exchange::default()
            .with_item_slots(Box::new(move |k: &str| reader.borrow().get(k).cloned()));
        let auth = format!("Bearer {key}");
        let head = RequestHead {
            method: "POST",
            path,
            authorization: Some(&auth),
            request_id: Some(request_id),
            header_names: vec![],
            ..Default::default()
        };
        let test_host = TestHost::default();
        let host = test_host.host();
        assert_eq!(
            exchange.on_request_headers(config, &head, false, &host),
            Step::Pause
        );
        let upstream = match send_body(&mut exchange, config, body.to_string().as_bytes(), &host) {
            Step::Forward(upstream) => upstream,
            Step::Respond(reply) => return Err(reply),
            other => panic!("expected the request to go on, got {other:?}"),
        };
        exchange.on_response_headers(
            config,
            &|name: &str| (name == ":status").then(|| "200".to_string()),
            &host,
        );
        let BodyAction::Replace(out) =
            exchange.on_response_body(config, answer.to_string().as_bytes(), true)
        else {
            panic!("expected a translated answer");
        };
        slots.borrow_mut().extend(exchange.take_items_to_remember());
        assert!(exchange.take_items_to_remember().is_empty());
        Ok((
            serde_json::from_slice(&out).unwrap(),
            serde_json::from_slice(&upstream.body).unwrap(),
        ))
    }

    fn bedrock_says(text: &str) -> serde_json::Value {
        serde_json::json!({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}})
    }

    const HAIKU: &str = "anthropic.claude-3-haiku-20240307-v1:0";

    #[test]
    fn responses_output_is_remembered_and_references_to_it_resolve() {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_string()),
            "API_KEY" => Some("k1,k2".to_string()),
            _ => None,
        };
        let config = Config::load(b"", &env).unwrap();
        let slots = SharedSlots::default();
        let first = serde_json::json!({"model": HAIKU, "input": "Weather?"});
        let (answer, _) = exchange_once(
            &config,
            &slots,
            "/v1/responses",
            "k1",
            first,
            bedrock_says("Sunny."),
        )
        .unwrap();
        let id = answer["output"][0]["id"].as_str().unwrap().to_string();
        // Secrets stay out of the store: it holds the item only.
        let stored: Vec<u8> = slots.borrow().values().flatten().copied().collect();
        let stored = String::from_utf8_lossy(&stored);
        assert!(
            stored.contains("Sunny.") && !stored.contains("secret") && !stored.contains("AKID")
        );

        let second = |key: &str, id: &str| {
            let body = serde_json::json!({"model": HAIKU, "input": [
                {"role": "user", "content": "Weather?"},
                {"type": "item_reference", "id": id},
                {"role": "user", "content": "Tomorrow?"}]});
            exchange_once(
                &config,
                &slots,
                "/v1/responses",
                key,
                body,
                bedrock_says("Rain."),
            )
        };
        let (_, sent) = second("k1", &id).unwrap();
        assert_eq!(
            sent["messages"][1],
            serde_json::json!({"role": "assistant", "content": [{"text": "Sunny."}]})
        );
        // Another client key, or an id never returned, is a 400 naming the item.
        for (key, id) in [("k2", id.as_str()), ("k1", "msg_unknown_0")] {
            let reply = second(key, id).unwrap_err();
            assert_eq!(reply.status, 400);
            assert!(String::from_utf8_lossy(&reply.body).contains(id));
        }
    }

    #[test]
    fn previous_response_id_sends_the_remembered_turns_before_the_new_input() {
        let config = config("");
        let slots = SharedSlots::default();
        let turn = |input: &str, previous: Option<&str>, says: &str| {
            let body = serde_json::json!({"model": HAIKU, "input": input,
                "instructions": "Be terse.", "previous_response_id": previous});
            let id = format!("id-{}", input.trim_end_matches('?'));
            exchange_once_as(
                &config,
                &slots,
                "/v1/responses",
                "k",
                &id,
                body,
                bedrock_says(says),
            )
        };
        let (first, _) = turn("One?", None, "1.").unwrap();
        let first_id = first["id"].as_str().unwrap().to_string();
        let (second, _) = turn("Two?", Some(&first_id), "2.").unwrap();
        assert_eq!(second["previous_response_id"], first_id.as_str());
        let second_id = second["id"].as_str().unwrap().to_string();
        let (_, sent) = turn("Three?", Some(&second_id), "3.").unwrap();
        let texts: Vec<&str> = sent["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"][0]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["One?", "1.", "Two?", "2.", "Three?"]);
        // This request's instructions only, once.
        assert_eq!(sent["system"], serde_json::json!([{"text": "Be terse."}]));

        let unknown = turn("Four?", Some("resp_never"), "-").unwrap_err();
        assert_eq!(unknown.status, 400);
        assert!(String::from_utf8_lossy(&unknown.body).contains("previous_response_not_found"));
    }

    #[test]
    fn chat_answers_and_a_disabled_store_remember_nothing() {
        let slots = SharedSlots::default();
        let chat =
            serde_json::json!({"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}]});
        exchange_once(
            &config(""),
            &slots,
            "/v1/chat/completions",
            "k",
            chat,
            bedrock_says("Hello"),
        )
        .unwrap();
        assert!(slots.borrow().is_empty());

        let off = config(r#""responses_item_store":{"enabled":false}"#);
        let body = serde_json::json!({"model": HAIKU, "input": "Hi"});
        exchange_once(
            &off,
            &slots,
            "/v1/responses",
            "k",
            body,
            bedrock_says("Hello"),
        )
        .unwrap();
        assert!(slots.borrow().is_empty());
        let reference = serde_json::json!({"model": HAIKU, "input": [{"type": "item_reference", "id": "msg_x_0"}]});
        let reply = exchange_once(
            &off,
            &slots,
            "/v1/responses",
            "k",
            reference,
            bedrock_says("-"),
        )
        .unwrap_err();
        assert_eq!(reply.status, 400);
    }

    #[test]
    fn fetched_images_are_translated_signed_and_forwarded() {
        let config =
            config(r#""image_fetch_cluster":"img","image_fetch_allowed_hosts":["example.com"]"#);
        let mut exchange = pending(&config);
        let body = chat_with("https://example.com/cat.png");
        let test_host = TestHost::default();
        let host = test_host.host();
        let Step::Dispatch(calls) = send_body(&mut exchange, &config, &body, &host) else {
            panic!("expected a fetch");
        };
        assert_eq!(calls.len(), 1);
        let answer = CallResponse {
            status: 200,
            headers: vec![("content-type".into(), "image/png".into())],
            body: PNG.to_vec(),
        };
        let step = exchange.on_call_response(&config, calls[0].key, answer, &host);
        let Step::Forward(upstream) = step else {
            panic!("expected the request to go on, got {step:?}");
        };
        let sent: serde_json::Value = serde_json::from_slice(&upstream.body).unwrap();
        let bytes = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG);
        assert_eq!(
            sent["messages"][0]["content"][0]["image"],
            serde_json::json!({"format": "png", "source": {"bytes": bytes}})
        );
        let header = |n: &str| {
            upstream
                .set_headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("content-length"),
            Some(upstream.body.len().to_string())
        );
        assert!(header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256"));
        assert!(header(":path").unwrap().ends_with("/converse"));
    }

    #[test]
    fn a_failed_fetch_refuses_the_request_and_later_answers_are_ignored() {
        let config =
            config(r#""image_fetch_cluster":"img","image_fetch_allowed_hosts":["example.com"]"#);
        let mut exchange = pending(&config);
        let body = chat_with("https://example.com/cat.png");
        let test_host = TestHost::default();
        let host = test_host.host();
        let fetch = send_body(&mut exchange, &config, &body, &host);
        assert!(matches!(fetch, Step::Dispatch(_)));
        let step = exchange.on_call_response(&config, 0, CallResponse::failed("timed out"), &host);
        let Step::Respond(reply) = step else {
            panic!("expected a refusal, got {step:?}");
        };
        assert_eq!(reply.status, 400);
        assert_eq!(exchange.summary().outcome, Outcome::Rejected);
        let again = exchange.on_call_response(&config, 0, CallResponse::failed("late"), &host);
        assert_eq!(again, Step::Pause);
    }

    #[test]
    fn nothing_is_fetched_when_fetching_is_off_or_the_model_is_not_allowed() {
        let off = config("");
        let mut exchange = pending(&off);
        let body = chat_with("https://example.com/cat.png");
        let test_host = TestHost::default();
        let host = test_host.host();
        let Step::Respond(err) = send_body(&mut exchange, &off, &body, &host) else {
            panic!("expected a refusal without a fetch");
        };
        assert_eq!(err.status, 400);

        let limited = config(r#""image_fetch_cluster":"img","allowed_models":["other"]"#);
        let mut exchange = pending(&limited);
        let Step::Respond(reply) = send_body(&mut exchange, &limited, &body, &host) else {
            panic!("expected a refusal");
        };
        assert_eq!(reply.status, 403);
    }

    #[test]
    fn bedrock_native_requests_are_checked_re_signed_and_passed_through() {
        let gateway = config(
            r#""model_aliases":{"sonnet":"us.anthropic.claude-sonnet-4-5-20250929-v1:0"},"allowed_models":["sonnet"]"#,
        );
        let test_host = TestHost::default();
        let host = test_host.host();
        let head = |path: &'static str, key: &'static str| RequestHead {
            method: "POST",
            path,
            authorization: Some(key),
            request_id: None,
            header_names: vec!["authorization".into(), "anthropic-beta".into()],
            ..Default::default()
        };
        let mut exchange = Exchange::default();
        let step = exchange.on_request_headers(
            &gateway,
            &head("/model/sonnet/invoke-with-response-stream", "Bearer k"),
            false,
            &host,
        );
        assert_eq!(step, Step::Pause);
        let body = br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":9,"messages":[]}"#;
        let Step::Forward(upstream) = send_body(&mut exchange, &gateway, body, &host) else {
            panic!("expected the request to go on");
        };
        assert_eq!(upstream.body, body.to_vec());
        let header = |n: &str| {
            upstream
                .set_headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header(":path").as_deref(),
            Some(
                "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
            )
        );
        assert!(header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256"));
        assert_eq!(upstream.remove_headers, Vec::<String>::new());
        // The answer is not touched.
        let answer = exchange.on_response_headers(
            &gateway,
            &|n: &str| (n == ":status").then(|| "200".into()),
            &host,
        );
        assert_eq!(answer, ResponseHeaders::default());
        assert_eq!(
            exchange.on_response_body(&gateway, b"frames", false),
            BodyAction::Pass
        );

        // A wrong key and a model outside the allow-list: AWS-shaped errors, nothing sent.
        for (path, key, status, kind) in [
            (
                "/model/sonnet/invoke",
                "Bearer nope",
                401,
                "UnrecognizedClientException",
            ),
            (
                "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                "Bearer k",
                403,
                "AccessDeniedException",
            ),
        ] {
            let mut exchange = Exchange::default();
            let Step::Respond(reply) =
                exchange.on_request_headers(&gateway, &head(path, key), false, &host)
            else {
                panic!("expected a refusal for {path}");
            };
            assert_eq!(reply.status, status);
            assert!(reply
                .headers
                .contains(&("x-amzn-errortype".into(), kind.into())));
        }
        // Envoy's own errors (no x-amzn-ErrorType) are worded in AWS's shape; Bedrock's pass.
        let answered = |status: &'static str, error_type: Option<&'static str>, body: &[u8]| {
            let mut exchange = Exchange::default();
            exchange.on_request_headers(
                &gateway,
                &head("/model/sonnet/invoke", "Bearer k"),
                false,
                &host,
            );
            send_body(&mut exchange, &gateway, b"{}", &host);
            let headers = exchange.on_response_headers(
                &gateway,
                &|n: &str| match n {
                    ":status" => Some(status.into()),
                    "x-amzn-errortype" => error_type.map(str::to_string),
                    _ => None,
                },
                &host,
            );
            (headers, exchange.on_response_body(&gateway, body, true))
        };
        let (headers, body) = answered("503", None, b"upstream connect error or disconnect/reset");
        assert!(headers.set_headers.contains(&(
            "x-amzn-errortype".into(),
            "ServiceUnavailableException".into()
        )));
        let BodyAction::Replace(body) = body else {
            panic!("expected Envoy's text to be replaced");
        };
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("upstream connect error"));
        let (headers, body) = answered("400", Some("ValidationException"), br#"{"message":"bad"}"#);
        assert_eq!(headers.set_headers, Vec::new());
        assert_eq!(body, BodyAction::Replace(br#"{"message":"bad"}"#.to_vec()));

        let off = config(r#""bedrock_passthrough":false"#);
        let Step::Respond(reply) = Exchange::default().on_request_headers(
            &off,
            &head("/model/sonnet/invoke", "Bearer k"),
            false,
            &host,
        ) else {
            panic!("expected a 404 with passthrough off");
        };
        assert_eq!(reply.status, 404);
    }

    #[test]
    fn quotas_admit_count_refuse_and_stamp_every_answer() {
        let gateway = config(r#""quota":{"requests_per_minute":2,"tokens_per_minute":1000}"#);
        let test_host = TestHost::default();
        let host = test_host.host();
        let chat =
            serde_json::json!({"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}]});
        let head = RequestHead {
            method: "POST",
            path: "/v1/chat/completions",
            authorization: Some("Bearer k"),
            ..Default::default()
        };
        for remaining in ["1", "0"] {
            let mut exchange = Exchange::default();
            assert_eq!(
                exchange.on_request_headers(&gateway, &head, false, &host),
                Step::Pause
            );
            let body = chat.to_string().into_bytes();
            assert!(matches!(
                send_body(&mut exchange, &gateway, &body, &host),
                Step::Forward(_)
            ));
            let headers = exchange.on_response_headers(
                &gateway,
                &|n: &str| (n == ":status").then(|| "200".into()),
                &host,
            );
            assert!(headers
                .set_headers
                .contains(&("x-ratelimit-remaining-requests".into(), remaining.into())));
            exchange.on_response_body(&gateway, bedrock_says("Hello").to_string().as_bytes(), true);
            exchange.on_log(&host);
        }
        let mut refused = Exchange::default();
        let Step::Respond(reply) = refused.on_request_headers(&gateway, &head, false, &host) else {
            panic!("expected the third request to be refused");
        };
        assert_eq!(reply.status, 429);
        assert!(reply.headers.iter().any(|(n, _)| n == "retry-after"));
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        // Both answers' tokens were charged (5 each in `bedrock_says`).
        let (minute, _) = test_host.shared.get("bedrock_quota/minute/key1").unwrap();
        assert!(String::from_utf8(minute).unwrap().ends_with(" 2 10"));
    }

    #[test]
    fn gpt_names_go_to_the_default_model_and_allow_lists_judge_it() {
        let sonnet = "us.anthropic.claude-sonnet-4-20250514-v1:0";
        let open = config(&format!(r#""default_model":"{sonnet}""#));
        let slots = SharedSlots::default();
        let body =
            serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
        let (answer, _) = exchange_once(
            &open,
            &slots,
            "/v1/chat/completions",
            "k",
            body.clone(),
            bedrock_says("Hello"),
        )
        .unwrap();
        assert_eq!(answer["model"], "gpt-4o");
        // The same request from a key limited to Haiku is refused before anything is sent.
        let limited = config(&format!(
            r#""default_model":"{sonnet}","allowed_models":["{HAIKU}"]"#
        ));
        let err = exchange_once(
            &limited,
            &slots,
            "/v1/chat/completions",
            "k",
            body,
            bedrock_says("x"),
        )
        .unwrap_err();
        assert_eq!(err.status, 403);
        // A request without a model and with an image URL is judged before anything is fetched.
        let fetching = config(&format!(
            r#""default_model":"{sonnet}","allowed_models":["{HAIKU}"],"image_fetch_cluster":"img""#
        ));
        let mut exchange = pending(&fetching);
        let no_model = serde_json::json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
        let test_host = TestHost::default();
        let Step::Respond(reply) = send_body(
            &mut exchange,
            &fetching,
            no_model.to_string().as_bytes(),
            &test_host.host(),
        ) else {
            panic!("expected a refusal without a fetch");
        };
        assert_eq!(reply.status, 403);
    }

    #[test]
    fn an_application_profile_is_looked_up_once_and_its_model_rules_apply() {
        let gateway = config("");
        let test_host = TestHost::default();
        let host = test_host.host();
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc";
        let body =
            serde_json::json!({"model": arn, "messages": [{"role": "user", "content": "Hi"}],
            "reasoning_effort": "low", "max_tokens": 4000})
            .to_string()
            .into_bytes();
        let mut first = pending(&gateway);
        let Step::Dispatch(calls) = send_body(&mut first, &gateway, &body, &host) else {
            panic!("expected GetInferenceProfile");
        };
        let path = &calls[0]
            .headers
            .iter()
            .find(|(n, _)| n == ":path")
            .unwrap()
            .1;
        assert!(path.starts_with("/inference-profiles/arn%3Aaws"));
        let profile = serde_json::json!({"models": [{"modelArn":
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"}]});
        let answer = CallResponse {
            status: 200,
            headers: vec![],
            body: profile.to_string().into_bytes(),
        };
        let Step::Forward(upstream) = first.on_call_response(&gateway, 0, answer, &host) else {
            panic!("expected the request to go on");
        };
        let sent: serde_json::Value = serde_json::from_slice(&upstream.body).unwrap();
        // Claude's rules now apply: the effort became a thinking budget.
        assert_eq!(
            sent["additionalModelRequestFields"]["thinking"]["type"],
            "enabled"
        );
        // The next request for the profile needs no call.
        let mut second = pending(&gateway);
        assert!(matches!(
            send_body(&mut second, &gateway, &body, &host),
            Step::Forward(_)
        ));
    }

    #[test]
    fn a_throttled_model_cools_down_and_its_fallback_serves_the_next_requests() {
        const US: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        const NOVA: &str = "us.amazon.nova-pro-v1:0";
        let gateway = config(&format!(
            r#""model_fallbacks":{{"claude":["{US}","{NOVA}"]}},"fallback_cooldown_seconds":30,
               "allowed_models":["claude"]"#
        ));
        let test_host = TestHost::default();
        let host = test_host.host();
        let head = RequestHead {
            method: "POST",
            path: "/v1/chat/completions",
            authorization: Some("Bearer k"),
            ..Default::default()
        };
        let chat =
            serde_json::json!({"model": "claude", "messages": [{"role": "user", "content": "Hi"}]});
        // One request; Bedrock answers `status` (with `error_type`): the path it went to, the
        // client's body and how it was summed up.
        let request = |status: &'static str, error_type: Option<&'static str>| {
            let mut exchange = Exchange::default();
            assert_eq!(
                exchange.on_request_headers(&gateway, &head, false, &host),
                Step::Pause
            );
            let Step::Forward(upstream) =
                send_body(&mut exchange, &gateway, chat.to_string().as_bytes(), &host)
            else {
                panic!("expected the request to go on");
            };
            let path = upstream
                .set_headers
                .iter()
                .find(|(n, _)| n == ":path")
                .unwrap()
                .1
                .clone();
            exchange.on_response_headers(
                &gateway,
                &|n: &str| match n {
                    ":status" => Some(status.to_string()),
                    "x-amzn-errortype" => error_type.map(str::to_string),
                    _ => None,
                },
                &host,
            );
            let answer = if status == "200" {
                bedrock_says("Hello").to_string()
            } else {
                r#"{"message":"Too many requests, please wait before trying again."}"#.to_string()
            };
            let BodyAction::Replace(out) =
                exchange.on_response_body(&gateway, answer.as_bytes(), true)
            else {
                panic!("expected a translated answer");
            };
            let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
            (path, out, exchange.on_log(&host))
        };
        let (path, out, summary) = request("429", Some("ThrottlingException"));
        assert!(path.contains("us.anthropic"), "{path}");
        assert_eq!(out["error"]["code"], "rate_limit_exceeded");
        assert!(summary.cooldown_started && !summary.fallback_used);

        let (path, out, summary) = request("200", None);
        assert!(path.contains("us.amazon.nova-pro"), "{path}");
        assert_eq!(out["model"], NOVA);
        assert!(summary.fallback_used && !summary.cooldown_started);
        // A validation error is the request's fault: nothing cools down.
        let (_, _, summary) = request("400", Some("ValidationException"));
        assert!(!summary.cooldown_started);
        let mut recorder = observability::Recorder::default();
        let counted = recorder.counters(&request("200", None).2);
        assert!(counted.contains(&("bedrock_access_filter.fallback.used".into(), 1)));
    }
}
