//! The control-plane calls Claude Code's Bedrock mode makes at start, served from the real
//! control plane: ListInferenceProfiles with the profiles the client's key may not use left
//! out, and GetInferenceProfile for a profile the key may use. Answers keep Bedrock's shape;
//! Bedrock's errors pass as they are.

use crate::bedrock::control_plane::LIST_INFERENCE_PROFILES;
use crate::bedrock::model_id::encode_path_segment;
use crate::config::Config;
use crate::error::ApiError;
use crate::local_reply::LocalReply;
use crate::router::ProfilesCall;
use crate::step::Step;
use crate::upstream::calls::{signed_call, CallResponse, Target};
use serde_json::Value;
use std::time::{Duration, SystemTime};

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct ProfilesJob {
    listing: bool,
    key: Option<String>,
}

/// The one call a profiles request makes; `Err` when the key may not see the profile.
pub fn start(
    config: &Config,
    call: &ProfilesCall,
    key: Option<&str>,
    now: SystemTime,
) -> Result<(ProfilesJob, Step), ApiError> {
    let path = match call {
        ProfilesCall::List { query } if query.is_empty() => LIST_INFERENCE_PROFILES.to_string(),
        ProfilesCall::List { query } => format!("{LIST_INFERENCE_PROFILES}?{query}"),
        ProfilesCall::Get(id) => {
            if !config.model_allowed(key, config.resolve_model(id)) {
                return Err(ApiError::new(
                    403,
                    "permission_error",
                    format!("The inference profile '{id}' is not allowed for this API key."),
                ));
            }
            format!("{LIST_INFERENCE_PROFILES}/{}", encode_path_segment(id))
        }
    };
    let target = Target {
        cluster: &config.control_plane_cluster,
        host: &config.control_plane_host,
        timeout: TIMEOUT,
    };
    let outbound = signed_call(config, &target, 0, "GET", &path, Vec::new(), now)?;
    let job = ProfilesJob {
        listing: matches!(call, ProfilesCall::List { .. }),
        key: key.map(str::to_string),
    };
    Ok((job, Step::Dispatch(vec![outbound])))
}

/// GetInferenceProfile for the gateway itself: which model an application profile runs.
pub fn lookup_call(
    config: &Config,
    arn: &str,
    now: SystemTime,
) -> Result<crate::upstream::calls::OutboundCall, ApiError> {
    let target = Target {
        cluster: &config.control_plane_cluster,
        host: &config.control_plane_host,
        timeout: TIMEOUT,
    };
    let path = format!("{LIST_INFERENCE_PROFILES}/{}", encode_path_segment(arn));
    signed_call(config, &target, 0, "GET", &path, Vec::new(), now)
}

/// The foundation model id in a GetInferenceProfile answer (its first model's ARN ends in
/// `foundation-model/<id>`); None when the call failed or the answer names none.
pub fn model_of(response: &CallResponse) -> Option<String> {
    if response.status != 200 {
        return None;
    }
    let profile: Value = serde_json::from_slice(&response.body).ok()?;
    let arn = profile.get("models")?.get(0)?.get("modelArn")?.as_str()?;
    let (_, id) = arn.split_once("foundation-model/")?;
    (!id.is_empty()).then(|| id.to_string())
}

impl ProfilesJob {
    pub fn on_response(&self, config: &Config, response: CallResponse) -> Step {
        if let Some(why) = response.unreachable() {
            return Step::error(&ApiError::new(
                503,
                "server_error",
                format!("The Bedrock control plane could not be reached: {why}"),
            ));
        }
        if response.status != 200 || !self.listing {
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            if let Some(kind) = response.header("x-amzn-errortype") {
                headers.push(("x-amzn-errortype".into(), kind.to_string()));
            }
            return Step::Respond(LocalReply {
                status: response.status,
                headers,
                body: response.body,
            });
        }
        let Ok(mut listing) = serde_json::from_slice::<Value>(&response.body) else {
            return Step::error(&ApiError::bad_gateway(
                "Bedrock: the inference profile list is not JSON",
            ));
        };
        let key = self.key.as_deref();
        let allowed = |profile: &Value| {
            ["inferenceProfileId", "inferenceProfileArn"]
                .iter()
                .any(|field| {
                    profile
                        .get(field)
                        .and_then(Value::as_str)
                        .is_some_and(|id| config.model_allowed(key, config.resolve_model(id)))
                })
        };
        if let Some(Value::Array(profiles)) = listing.get_mut("inferenceProfileSummaries") {
            profiles.retain(allowed);
        }
        Step::Respond(LocalReply::json(200, listing.to_string().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixed_now, signing_config};
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_list_keeps_only_what_the_key_may_use() {
        let config = signing_config(
            r#"{"api_keys": [{"name": "a", "key": "ka", "models": ["us.anthropic.claude-sonnet-4-5-20250929-v1:0"]}]}"#,
            &[],
        );
        let call = ProfilesCall::List {
            query: "type=SYSTEM_DEFINED".into(),
        };
        let (job, step) = start(&config, &call, Some("a"), fixed_now()).unwrap();
        let Step::Dispatch(calls) = step else {
            panic!()
        };
        let path = &calls[0]
            .headers
            .iter()
            .find(|(n, _)| n == ":path")
            .unwrap()
            .1;
        assert_eq!(path, "/inference-profiles?type=SYSTEM_DEFINED");
        let listing = json!({"inferenceProfileSummaries": [
            {"inferenceProfileId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
            {"inferenceProfileId": "us.anthropic.claude-opus-4-1-20250805-v1:0"}], "nextToken": "n"});
        let answer = CallResponse {
            status: 200,
            headers: vec![],
            body: listing.to_string().into_bytes(),
        };
        let Step::Respond(reply) = job.on_response(&config, answer) else {
            panic!()
        };
        let out: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            out["inferenceProfileSummaries"].as_array().unwrap().len(),
            1
        );
        assert_eq!(out["nextToken"], "n");
        let denied = start(
            &config,
            &ProfilesCall::Get("us.anthropic.claude-opus-4-1-20250805-v1:0".into()),
            Some("a"),
            fixed_now(),
        );
        assert_eq!(denied.err().map(|e| e.status), Some(403));
    }
}
