//! Bedrock's error answers (any non-2xx) read into the gateway's error.

use crate::error::ApiError;
use serde_json::Value;

/// A Bedrock error response (any non-2xx) as an OpenAI error.
pub fn bedrock_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(500).collect());
    let kind = error_type_header
        .map(str::to_string)
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|v| v.get("__type"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    ApiError::from_bedrock(status, &kind, message.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn bedrock_errors_keep_their_message() {
        let e = bedrock_error(
            400,
            Some("ValidationException:http://internal"),
            br#"{"message":"bad turn"}"#,
        );
        assert_eq!((e.status, e.kind), (400, "invalid_request_error"));
        assert!(e.message.contains("bad turn"));
        let e = bedrock_error(503, None, b"<html>down</html>");
        assert_eq!(e.status, 503);
    }
}
