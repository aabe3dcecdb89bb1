//! Calls the filter makes itself (Envoy `dispatch_http_call`): the model list from the Bedrock
//! control plane, the embeddings fan-out and remote images. The core describes each call and
//! consumes each answer; the shell only moves bytes.

use crate::bedrock::model_id::encode_path_segment;
use crate::config::Config;
use crate::error::ApiError;
use crate::upstream::request::{signed_headers, Signed};
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

impl OutboundCall {
    /// How much of an answer of `size` bytes to read: one byte past the limit is enough to
    /// refuse an oversized answer.
    pub fn bytes_to_read(&self, size: usize) -> usize {
        self.max_response_bytes
            .map_or(size, |max| size.min(max.saturating_add(1)))
    }
}

/// What came back. `status` 0 means no answer at all (connection refused, timeout, reset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CallResponse {
    /// What Envoy delivered: no headers at all means the call failed (connection refused,
    /// reset, timeout).
    pub fn received(headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let status = headers
            .iter()
            .find(|(n, _)| n == ":status")
            .map(|(_, v)| v.parse::<u16>().unwrap_or(502));
        match status {
            Some(status) => CallResponse {
                status,
                headers,
                body,
            },
            None => Self::no_answer(),
        }
    }

    /// Envoy delivered no answer to a call that was made.
    pub fn no_answer() -> Self {
        Self::failed("no answer: connection failed, reset or timed out")
    }

    /// Envoy refused to make the call (`why`: its status).
    pub fn not_dispatched(cluster: &str, why: &str) -> Self {
        Self::failed(&format!(
            "Envoy could not call cluster '{cluster}' ({why}); is it configured?"
        ))
    }

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

/// Where a call goes.
pub struct Target<'a> {
    pub cluster: &'a str,
    /// `:authority`, also the host SigV4 signs for.
    pub host: &'a str,
    pub timeout: Duration,
}

/// A signed call to Bedrock (runtime or control plane).
pub fn signed_call(
    config: &Config,
    target: &Target<'_>,
    key: usize,
    method: &str,
    path: &str,
    body: Vec<u8>,
    now: SystemTime,
) -> Result<OutboundCall, ApiError> {
    let headers = signed_headers(
        config,
        &Signed {
            method,
            host: target.host,
            path,
            body: &body,
            accept: "application/json",
        },
        now,
    )?;
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
    encode_path_segment(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config() -> Config {
        crate::test_support::signing_config("", &[])
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
