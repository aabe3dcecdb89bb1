//! One error type for everything the gateway can refuse or fail with. It renders as the
//! OpenAI error body (`{"error":{"message","type","code"}}`) or as an SSE error event.

use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// OpenAI `error.type`, e.g. `invalid_request_error`.
    pub kind: &'static str,
    /// OpenAI `error.code`, e.g. `invalid_api_key`.
    pub code: Option<String>,
    /// OpenAI `error.param` when one request field is at fault.
    pub param: Option<String>,
    /// Seconds to wait before retrying (sent as `retry-after`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code: None,
            param: None,
            retry_after: None,
        }
    }
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::bad_request(message).with_param(param)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "invalid_request_error", message).with_code("invalid_api_key")
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "invalid_request_error", message).with_code("not_found")
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "invalid_request_error", message).with_code("method_not_allowed")
    }
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(413, "invalid_request_error", message).with_code("request_too_large")
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "server_error", message).with_code("internal_error")
    }
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(502, "upstream_error", message).with_code("bad_gateway")
    }

    /// Maps a Bedrock error (HTTP status + `x-amzn-errortype` / body `__type` + message).
    pub fn from_bedrock(status: u16, error_type: &str, message: &str) -> Self {
        // `x-amzn-errortype` looks like `ValidationException:http://internal.amazon.com/...`.
        let short = error_type.split(':').next().unwrap_or(error_type).trim();
        let short = short.rsplit('#').next().unwrap_or(short);
        let (status, kind, code) = match short {
            "ValidationException" => (400, "invalid_request_error", "validation_error"),
            "AccessDeniedException" => (403, "permission_error", "access_denied"),
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignatureException" => (403, "permission_error", "upstream_auth_failed"),
            "ResourceNotFoundException" => (404, "invalid_request_error", "model_not_found"),
            "ThrottlingException" | "TooManyRequestsException" => {
                (429, "rate_limit_error", "rate_limit_exceeded")
            }
            "ServiceQuotaExceededException" => (429, "rate_limit_error", "quota_exceeded"),
            "ModelTimeoutException" => (408, "timeout_error", "model_timeout"),
            "ModelNotReadyException" => (429, "rate_limit_error", "model_not_ready"),
            "ModelErrorException" => (424, "upstream_error", "model_error"),
            "ModelStreamErrorException" => (424, "upstream_error", "model_stream_error"),
            "ServiceUnavailableException" => (503, "server_error", "service_unavailable"),
            "InternalServerException" => (500, "server_error", "internal_error"),
            _ => match status {
                400 => (400, "invalid_request_error", "validation_error"),
                401 | 403 => (403, "permission_error", "upstream_auth_failed"),
                404 => (404, "invalid_request_error", "model_not_found"),
                429 => (429, "rate_limit_error", "rate_limit_exceeded"),
                s if (500..600).contains(&s) => (s, "server_error", "upstream_error"),
                _ => (502, "upstream_error", "bad_gateway"),
            },
        };
        let message = if message.is_empty() {
            format!("Bedrock returned HTTP {status}")
        } else {
            message.to_string()
        };
        ApiError::new(status, kind, format!("Bedrock: {message}")).with_code(code)
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }

    pub fn to_body(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// The in-band error event that OpenAI SDKs raise on during a chat stream.
    pub fn to_sse_event(&self) -> Vec<u8> {
        format!("data: {}\n\n", self.to_json()).into_bytes()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn bedrock_throttling_maps_to_429_rate_limit() {
        let e = ApiError::from_bedrock(
            400,
            "ThrottlingException:http://internal.amazon.com/coral/",
            "slow down",
        );
        assert_eq!(e.status, 429);
        assert_eq!(e.kind, "rate_limit_error");
        assert!(e.message.contains("slow down"));
    }

    #[test]
    fn body_has_openai_shape() {
        let v: serde_json::Value =
            serde_json::from_slice(&ApiError::unauthorized("no key").to_body()).unwrap_or_default();
        assert_eq!(v["error"]["message"], "no key");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "invalid_api_key");
    }
}
