//! `/v1/embeddings` → InvokeModel calls (one per text for Titan and Nova, batches of 96 for
//! Cohere), run in parallel from the filter and assembled in input order.

use crate::api::embeddings::{self, EmbeddingsRequest, Encoding};
use crate::bedrock::embeddings::{family, Family, SUPPORTED};
use crate::bedrock::errors::bedrock_error;
use crate::bedrock::model_id::{runtime_path, validate_model_id};
use crate::config::Config;
use crate::error::ApiError;
use crate::local_reply::LocalReply;
use crate::step::Step;
use crate::upstream::calls::{signed_call, CallResponse, OutboundCall, Target};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

/// Calls of one request in flight at once, so a long list does not flood Bedrock.
pub const MAX_IN_FLIGHT: usize = 16;
/// Inputs per request for models that take one text per call (Titan, Nova).
pub const MAX_SINGLE_TEXT_INPUTS: usize = 256;
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

struct Batch {
    /// Index of the batch's first text in the request.
    start: usize,
    texts: Vec<String>,
}

pub struct EmbeddingsJob {
    /// The name the client used, echoed back.
    model: String,
    model_id: String,
    family: Family,
    encoding: Encoding,
    dimensions: Option<u32>,
    input_type: Option<String>,
    waiting: VecDeque<Batch>,
    in_flight: BTreeMap<usize, Batch>,
    next_key: usize,
    vectors: Vec<Option<Vec<f64>>>,
    prompt_tokens: u64,
    finished: bool,
}

/// Input tokens when the model does not count them: about four characters per token.
pub fn estimate_tokens(text: &str) -> u64 {
    let chars = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
    chars.div_ceil(4).max(1)
}

impl EmbeddingsJob {
    /// Validates the request and makes the first calls.
    pub fn start(config: &Config, body: &[u8], now: SystemTime) -> (Option<Self>, Step) {
        match Self::plan(config, body) {
            Ok(mut job) => {
                let step = job.begin(config, now);
                (Some(job), step)
            }
            Err(e) => (None, Step::error(&e)),
        }
    }

    /// The first calls of a planned job.
    pub fn begin(&mut self, config: &Config, now: SystemTime) -> Step {
        self.dispatch_more(config, now)
    }

    /// Validates the request and splits it into calls, without making any.
    pub fn plan(config: &Config, body: &[u8]) -> Result<Self, ApiError> {
        let EmbeddingsRequest {
            model,
            inputs,
            encoding,
            dimensions,
            input_type,
        } = embeddings::parse(body)?;
        let model_id = config.resolve_embedding_model(&model).to_string();
        validate_model_id(&model_id)?;
        let family = family(&model_id).ok_or_else(|| {
            ApiError::invalid_param(
                "model",
                format!("'{model}' is not an embedding model this gateway serves. Supported: {SUPPORTED}."),
            )
            .with_code("model_not_supported")
        })?;
        family.check_dimensions(&model, dimensions)?;
        let per_call = family.batch_size();
        if per_call == 1 && inputs.len() > MAX_SINGLE_TEXT_INPUTS {
            return Err(ApiError::invalid_param(
                "input",
                format!(
                    "{model} embeds one text per Bedrock call; send at most \
                     {MAX_SINGLE_TEXT_INPUTS} inputs per request (got {}).",
                    inputs.len()
                ),
            ));
        }
        let count = inputs.len();
        let mut waiting = VecDeque::new();
        let mut rest = inputs.into_iter();
        let mut start = 0;
        loop {
            let texts: Vec<String> = rest.by_ref().take(per_call).collect();
            if texts.is_empty() {
                break;
            }
            let len = texts.len();
            waiting.push_back(Batch { start, texts });
            start = start.saturating_add(len);
        }
        Ok(EmbeddingsJob {
            model,
            model_id,
            family,
            encoding,
            dimensions,
            input_type,
            waiting,
            in_flight: BTreeMap::new(),
            next_key: 0,
            vectors: vec![None; count],
            prompt_tokens: 0,
            finished: false,
        })
    }

    /// Fills the window of calls in flight from the waiting batches.
    fn dispatch_more(&mut self, config: &Config, now: SystemTime) -> Step {
        let mut calls = Vec::new();
        while self.in_flight.len() < MAX_IN_FLIGHT {
            let Some(batch) = self.waiting.pop_front() else {
                break;
            };
            match self.call(config, &batch, now) {
                Ok(call) => {
                    self.in_flight.insert(call.key, batch);
                    calls.push(call);
                }
                Err(e) => {
                    self.finished = true;
                    return Step::error(&e);
                }
            }
        }
        if calls.is_empty() {
            Step::Pause
        } else {
            Step::Dispatch(calls)
        }
    }

    fn call(
        &mut self,
        config: &Config,
        batch: &Batch,
        now: SystemTime,
    ) -> Result<OutboundCall, ApiError> {
        let body = self
            .family
            .request(&batch.texts, self.dimensions, self.input_type.as_deref());
        let key = self.next_key;
        self.next_key = self.next_key.saturating_add(1);
        let target = Target {
            cluster: &config.runtime_cluster,
            host: &config.runtime_host,
            timeout: CALL_TIMEOUT,
        };
        let path = runtime_path(&self.model_id, "invoke");
        signed_call(
            config,
            &target,
            key,
            "POST",
            &path,
            body.to_string().into_bytes(),
            now,
        )
    }

    pub fn on_response(
        &mut self,
        config: &Config,
        key: usize,
        response: CallResponse,
        now: SystemTime,
    ) -> Step {
        if self.finished {
            return Step::Pause;
        }
        let Some(batch) = self.in_flight.remove(&key) else {
            return Step::Pause;
        };
        if let Err(e) = self.absorb(&batch, &response) {
            self.finished = true;
            return Step::error(&e);
        }
        if !self.waiting.is_empty() {
            return self.dispatch_more(config, now);
        }
        if !self.in_flight.is_empty() {
            return Step::Pause;
        }
        self.finished = true;
        let vectors: Vec<Vec<f64>> = self
            .vectors
            .iter_mut()
            .map(|v| v.take().unwrap_or_default())
            .collect();
        let body = embeddings::response(&self.model, &vectors, self.encoding, self.prompt_tokens);
        Step::Respond(LocalReply::json(200, body.to_string().into_bytes()))
    }

    fn absorb(&mut self, batch: &Batch, response: &CallResponse) -> Result<(), ApiError> {
        if let Some(reason) = response.unreachable() {
            return Err(ApiError::new(
                503,
                "server_error",
                format!("Could not reach Bedrock Runtime for embeddings ({reason})."),
            )
            .with_code("service_unavailable"));
        }
        if response.status != 200 {
            return Err(bedrock_error(
                response.status,
                response.header("x-amzn-errortype"),
                &response.body,
            ));
        }
        let (vectors, tokens) = self
            .family
            .parse(&response.body, batch.texts.len())
            .map_err(|e| {
                ApiError::bad_gateway(format!("Bedrock sent embeddings we could not read: {e}"))
            })?;
        let tokens = tokens.unwrap_or_else(|| batch.texts.iter().map(|t| estimate_tokens(t)).sum());
        self.prompt_tokens = self.prompt_tokens.saturating_add(tokens);
        for (offset, vector) in vectors.into_iter().enumerate() {
            if let Some(slot) = self.vectors.get_mut(batch.start.saturating_add(offset)) {
                *slot = Some(vector);
            }
        }
        Ok(())
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::{json, Value};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config() -> Config {
        crate::test_support::signing_config(
            r#"{"model_aliases":{"embed":"cohere.embed-english-v3"}}"#,
            &[("BEDROCK_CLUSTER", "bedrock_plain")],
        )
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn body(call: &OutboundCall) -> Value {
        serde_json::from_slice(&call.body).unwrap()
    }

    fn header<'a>(call: &'a OutboundCall, name: &str) -> &'a str {
        &call.headers.iter().find(|(n, _)| n == name).unwrap().1
    }

    fn ok(v: Value) -> CallResponse {
        CallResponse {
            status: 200,
            headers: vec![],
            body: v.to_string().into_bytes(),
        }
    }

    fn reply_json(step: Step) -> (u16, Value) {
        let Step::Respond(r) = step else {
            panic!("{step:?}")
        };
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    #[test]
    fn titan_list_is_one_call_per_input_answered_in_input_order() {
        let cfg = config();
        let req = json!({"model": "amazon.titan-embed-text-v2:0", "input": ["a", "b", "c"], "dimensions": 256});
        let (job, step) = EmbeddingsJob::start(&cfg, req.to_string().as_bytes(), now());
        let mut job = job.unwrap();
        let Step::Dispatch(calls) = step else {
            panic!()
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(
            body(&calls[1]),
            json!({"inputText": "b", "normalize": true, "dimensions": 256})
        );
        assert_eq!(
            header(&calls[0], ":path"),
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert_eq!(calls[0].cluster, "bedrock_plain");
        assert!(header(&calls[0], "authorization").starts_with("AWS4-HMAC-SHA256"));
        // Answers arrive out of order.
        for (key, value, tokens) in [(2, 3.0, 5), (0, 1.0, 1), (1, 2.0, 2)] {
            let step = job.on_response(
                &cfg,
                key,
                ok(json!({"embedding": [value], "inputTextTokenCount": tokens})),
                now(),
            );
            if key != 1 {
                assert_eq!(step, Step::Pause);
                continue;
            }
            let (status, v) = reply_json(step);
            assert_eq!(status, 200);
            let got: Vec<f64> = (0..3)
                .map(|i| v["data"][i]["embedding"][0].as_f64().unwrap())
                .collect();
            assert_eq!(got, [1.0, 2.0, 3.0]);
            assert_eq!(v["usage"]["prompt_tokens"], 8);
            assert_eq!(v["model"], "amazon.titan-embed-text-v2:0");
        }
    }

    #[test]
    fn cohere_batches_96_texts_and_estimates_usage() {
        let cfg = config();
        let inputs: Vec<String> = (0..100).map(|i| format!("text {i:03}")).collect();
        let req = json!({"model": "embed", "input": inputs, "encoding_format": "base64"});
        let (job, step) = EmbeddingsJob::start(&cfg, req.to_string().as_bytes(), now());
        let mut job = job.unwrap();
        assert_eq!(job.model_id(), "cohere.embed-english-v3");
        let Step::Dispatch(calls) = step else {
            panic!()
        };
        assert_eq!(calls.len(), 2);
        assert_eq!(body(&calls[0])["texts"].as_array().unwrap().len(), 96);
        assert_eq!(
            body(&calls[1])["texts"],
            json!(["text 096", "text 097", "text 098", "text 099"])
        );
        assert_eq!(body(&calls[1])["input_type"], "search_document");
        let v: Vec<Vec<f64>> = (96..100).map(|i| vec![f64::from(i)]).collect();
        assert_eq!(
            job.on_response(&cfg, 1, ok(json!({"embeddings": v})), now()),
            Step::Pause
        );
        let v: Vec<Vec<f64>> = (0..96).map(|i| vec![f64::from(i)]).collect();
        let (_, out) = reply_json(job.on_response(&cfg, 0, ok(json!({"embeddings": v})), now()));
        let decode = |i: usize| {
            let b = base64::engine::general_purpose::STANDARD
                .decode(out["data"][i]["embedding"].as_str().unwrap())
                .unwrap();
            f32::from_le_bytes(b.try_into().unwrap())
        };
        assert_eq!(decode(97), 97.0);
        assert_eq!(decode(5), 5.0);
        // "text 000" is 8 characters: 2 estimated tokens each.
        assert_eq!(out["usage"]["prompt_tokens"], 200);
        assert_eq!(out["model"], "embed");
    }

    #[test]
    fn long_titan_lists_keep_a_bounded_window_in_flight() {
        let cfg = config();
        let inputs: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let req = json!({"model": "amazon.titan-embed-text-v1", "input": inputs});
        let (job, step) = EmbeddingsJob::start(&cfg, req.to_string().as_bytes(), now());
        let mut job = job.unwrap();
        let Step::Dispatch(calls) = step else {
            panic!()
        };
        assert_eq!(calls.len(), MAX_IN_FLIGHT);
        let Step::Dispatch(more) = job.on_response(&cfg, 0, ok(json!({"embedding": [0.0]})), now())
        else {
            panic!()
        };
        assert_eq!(more.len(), 1);
        assert_eq!(body(&more[0])["inputText"], format!("t{MAX_IN_FLIGHT}"));
    }

    #[test]
    fn bedrock_errors_and_unreachable_runtime_end_the_request() {
        let cfg = config();
        let req = json!({"model": "amazon.titan-embed-text-v1", "input": ["a", "b"]});
        let (job, _) = EmbeddingsJob::start(&cfg, req.to_string().as_bytes(), now());
        let mut job = job.unwrap();
        let throttled = CallResponse {
            status: 429,
            headers: vec![("x-amzn-errortype".into(), "ThrottlingException:x".into())],
            body: br#"{"message":"slow down"}"#.to_vec(),
        };
        let (status, v) = reply_json(job.on_response(&cfg, 1, throttled, now()));
        assert_eq!(status, 429);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("slow down"));
        assert_eq!(
            job.on_response(&cfg, 0, ok(json!({"embedding": [1]})), now()),
            Step::Pause
        );

        let (job, _) = EmbeddingsJob::start(&cfg, req.to_string().as_bytes(), now());
        let (status, _) = reply_json(job.unwrap().on_response(
            &cfg,
            0,
            CallResponse::failed("no cluster"),
            now(),
        ));
        assert_eq!(status, 503);
    }

    #[test]
    fn unknown_models_and_unsupported_dimensions_are_400() {
        let cfg = config();
        let (job, step) = EmbeddingsJob::start(
            &cfg,
            br#"{"model":"anthropic.claude-3-haiku-20240307-v1:0","input":"x"}"#,
            now(),
        );
        assert!(job.is_none());
        let (status, v) = reply_json(step);
        assert_eq!(status, 400);
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("Titan") && msg.contains("Cohere") && msg.contains("Nova"),
            "{msg}"
        );
        let (_, step) = EmbeddingsJob::start(
            &cfg,
            br#"{"model":"cohere.embed-english-v3","input":"x","dimensions":256}"#,
            now(),
        );
        let (status, v) = reply_json(step);
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some("dimensions"))
        );
    }

    #[test]
    fn token_estimate_is_a_quarter_of_the_characters() {
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
        assert_eq!(estimate_tokens("abcdefghi"), 3);
    }
}
