//! Anthropic's error envelope, `{"type":"error","error":{"type","message"}}`, with the
//! `error.type` Anthropic's SDKs key their retries and exceptions on.

use crate::error::ApiError;
use serde_json::{json, Value};

pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 405 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        501 => "not_supported_error",
        503 | 529 => "overloaded_error",
        504 | 408 => "timeout_error",
        _ => "api_error",
    }
}

pub fn envelope(e: &ApiError) -> Value {
    json!({"type": "error", "error": {"type": error_type(e.status), "message": e.message}})
}

pub fn body(e: &ApiError) -> Vec<u8> {
    envelope(e).to_string().into_bytes()
}

/// The mid-stream form: `event: error`.
pub fn sse_event(e: &ApiError) -> Vec<u8> {
    crate::sse::event("error", &envelope(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn statuses_get_anthropics_error_types() {
        let e = ApiError::from_bedrock(400, "ThrottlingException", "Too many requests");
        assert_eq!(
            envelope(&e),
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Bedrock: Too many requests"}})
        );
        assert_eq!(error_type(401), "authentication_error");
        assert_eq!(error_type(413), "request_too_large");
        assert_eq!(error_type(503), "overloaded_error");
        assert_eq!(error_type(500), "api_error");
        let sse = String::from_utf8(sse_event(&ApiError::bad_gateway("cut"))).unwrap();
        assert!(sse.starts_with("event: error\ndata: {"));
    }
}
