//! Requests the filter makes itself (Envoy `dispatch_http_call`) for endpoints it answers
//! locally: the model list from the Bedrock control plane and the embeddings fan-out.
//! The core describes each call and consumes each answer; the shell only moves bytes.

use crate::config::Config;
use crate::error::ApiError;
use crate::exchange::{LocalReply, UpstreamRequest};
use crate::sign::{self, SignInput};
use std::time::{Duration, SystemTime};

/// One HTTP call for the shell to dispatch to an Envoy cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundCall {
    /// Chosen by the job; its answer comes back with the same key.
    pub key: usize,
    pub cluster: String,
    /// Pseudo-headers (`:method`, `:path`, `:authority`) included.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// Read at most one byte more than this of the answer (the core then refuses it).
    pub max_response_bytes: Option<usize>,
}

/// What came back. `status` 0 means no answer at all (connection refused, timeout, reset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CallResponse {
    /// The call could not be made or got no answer; `reason` says why (for the client).
    pub fn failed(reason: &str) -> Self {
        CallResponse {
            status: 0,
            headers: Vec::new(),
            body: reason.as_bytes().to_vec(),
        }
    }

    /// Why Bedrock was never reached: no answer, or Envoy's own 503/504 (connect failure,
    /// no healthy host, timeout), which carries plain text and no AWS request id.
    pub fn unreachable(&self) -> Option<String> {
        let from_envoy = matches!(self.status, 503 | 504)
            && self.header("x-amzn-requestid").is_none()
            && serde_json::from_slice::<serde_json::Value>(&self.body).is_err();
        (self.status == 0 || from_envoy).then(|| {
            let text = String::from_utf8_lossy(&self.body);
            text.trim().chars().take(300).collect()
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the shell does next.
#[derive(Debug, PartialEq)]
pub enum CallStep {
    /// Dispatch these (more may follow as answers arrive).
    Dispatch(Vec<OutboundCall>),
    /// Nothing to do until the next answer.
    Wait,
    /// Finished: answer the client.
    Reply(LocalReply),
    /// Finished: send the client's request on to Bedrock, rewritten (after fetching images).
    Forward(UpstreamRequest),
}

impl CallStep {
    pub fn error(e: &ApiError) -> Self {
        CallStep::Reply(LocalReply::error(e))
    }
}

/// Where a call goes.
pub struct Target<'a> {
    pub cluster: &'a str,
    /// `:authority`, also the host SigV4 signs for.
    pub host: &'a str,
    pub timeout: Duration,
}

/// A signed request to Bedrock (runtime or control plane; both sign as service `bedrock`).
pub fn signed_call(
    config: &Config,
    target: &Target<'_>,
    key: usize,
    method: &str,
    path: &str,
    body: Vec<u8>,
    now: SystemTime,
) -> Result<OutboundCall, ApiError> {
    let content_type = "application/json";
    let auth = sign::authorize(
        &config.upstream_auth,
        &SignInput {
            method,
            host: target.host,
            path,
            content_type,
            body: &body,
            region: &config.region,
            service: "bedrock",
            now,
        },
    )?;
    let mut headers = vec![
        (":method".to_string(), method.to_string()),
        (":path".to_string(), path.to_string()),
        (":authority".to_string(), target.host.to_string()),
        ("content-type".to_string(), content_type.to_string()),
        ("accept".to_string(), "application/json".to_string()),
    ];
    if method != "GET" {
        headers.push(("content-length".to_string(), body.len().to_string()));
    }
    headers.extend(auth);
    Ok(OutboundCall {
        key,
        cluster: target.cluster.to_string(),
        headers,
        body,
        timeout: target.timeout,
        max_response_bytes: None,
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay), as SigV4 expects.
pub fn encode_query_value(value: &str) -> String {
    crate::translate::model::encode_path_segment(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config() -> Config {
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_string()),
            "API_KEY" => Some("k".to_string()),
            _ => None,
        };
        Config::load(b"", &env).unwrap()
    }

    #[test]
    fn signed_call_carries_route_and_signature() {
        let target = Target {
            cluster: "bedrock_control_plane",
            host: "bedrock.us-east-1.amazonaws.com",
            timeout: Duration::from_secs(5),
        };
        let call = signed_call(
            &config(),
            &target,
            3,
            "GET",
            "/foundation-models?byOutputModality=TEXT",
            Vec::new(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_633_051),
        )
        .unwrap();
        let get = |n: &str| {
            call.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(call.key, 3);
        assert_eq!(call.cluster, "bedrock_control_plane");
        assert_eq!(get(":authority"), Some("bedrock.us-east-1.amazonaws.com"));
        assert_eq!(
            get(":path"),
            Some("/foundation-models?byOutputModality=TEXT")
        );
        assert!(get("authorization")
            .unwrap()
            .contains("/us-east-1/bedrock/aws4_request"));
        assert_eq!(get("content-length"), None);
    }

    #[test]
    fn envoy_connect_failures_count_as_unreachable_but_bedrock_errors_do_not() {
        assert!(CallResponse::failed("timeout").unreachable().is_some());
        let envoy = CallResponse {
            status: 503,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"upstream connect error or disconnect/reset before headers".to_vec(),
        };
        assert!(envoy
            .unreachable()
            .unwrap()
            .starts_with("upstream connect error"));
        let bedrock = CallResponse {
            status: 503,
            headers: vec![("x-amzn-RequestId".into(), "r1".into())],
            body: br#"{"message":"ServiceUnavailable"}"#.to_vec(),
        };
        assert_eq!(bedrock.unreachable(), None);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("ab+/c=="), "ab%2B%2Fc%3D%3D");
    }
}
