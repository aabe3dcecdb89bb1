//! Model ids on the wire: which ids are safe to put in a path, and the runtime paths built
//! from them (the id percent-encoded once; SigV4 encodes it again for the canonical URI).

use crate::error::ApiError;

/// Rejects ids that could smuggle path segments, queries or header breaks.
pub fn validate_model_id(model_id: &str) -> Result<(), ApiError> {
    let ok_chars = model_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'));
    let traversal = model_id.split('/').any(|seg| seg == "." || seg == "..");
    if model_id.is_empty() || model_id.len() > 2048 || !ok_chars || traversal {
        return Err(ApiError::invalid_param(
            "model",
            "Invalid 'model': use a Bedrock model id, inference profile id or ARN \
             (letters, digits and . - _ : / only).",
        )
        .with_code("invalid_model"));
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so `:` and `/` stay inside
/// one path segment. SigV4 then encodes this once more for the canonical URI, as AWS expects.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len().saturating_mul(3));
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `/model/{id}/converse` or, for a streamed answer, `/model/{id}/converse-stream`.
/// Whether Bedrock answers a runtime path with an AWS event stream (ConverseStream,
/// InvokeModelWithResponseStream).
pub fn answers_as_event_stream(path: &str) -> bool {
    path.ends_with("/converse-stream") || path.ends_with("/invoke-with-response-stream")
}

pub fn converse_path(model_id: &str, stream: bool) -> String {
    runtime_path(
        model_id,
        if stream {
            "converse-stream"
        } else {
            "converse"
        },
    )
}

pub fn runtime_path(model_id: &str, action: &str) -> String {
    format!("/model/{}/{}", encode_path_segment(model_id), action)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn path_encodes_colon_and_slash_once() {
        assert_eq!(
            runtime_path("anthropic.claude-3-haiku-20240307-v1:0", "converse"),
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
        );
        assert_eq!(
            runtime_path("arn:aws:bedrock:us-east-1:123:application-inference-profile/ab", "converse-stream"),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Aapplication-inference-profile%2Fab/converse-stream"
        );
    }

    #[test]
    fn hostile_model_ids_are_rejected() {
        for bad in [
            "",
            "../../admin",
            "a/../b",
            "m\r\nx-evil: 1",
            "m?x=1",
            "m#f",
            "m%2F",
            "a b",
        ] {
            assert!(validate_model_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_model_id("us.anthropic.claude-3-haiku-20240307-v1:0").is_ok());
    }
}
