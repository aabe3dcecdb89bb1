//! Bedrock's own API for clients that speak it (AWS SDKs with a Bedrock API key, Claude Code
//! with `CLAUDE_CODE_USE_BEDROCK=1`): after the client's key is checked, the body goes to
//! Bedrock as sent, re-signed with the gateway's credentials, and the answer comes back as
//! Bedrock sent it while `usage` reads its token counts. Errors the gateway gives itself are
//! in AWS's shape so the SDKs raise their usual exceptions.

pub mod guardrail;
pub mod usage;

use crate::error::ApiError;
use crate::local_reply::LocalReply;
use serde_json::json;

/// The AWS error type an SDK maps to its exception for this status.
pub fn aws_error_type(status: u16) -> &'static str {
    match status {
        401 => "UnrecognizedClientException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        413 | 400 | 405 => "ValidationException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}

/// The gateway's own error as Bedrock Runtime words errors: `{"message"}` with the type in
/// `x-amzn-ErrorType`.
pub fn error_reply(e: &ApiError) -> LocalReply {
    LocalReply {
        status: e.status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-amzn-errortype".into(), aws_error_type(e.status).into()),
        ],
        body: json!({ "message": e.message }).to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn own_errors_take_the_aws_shape_sdks_raise_on() {
        let reply = error_reply(&ApiError::unauthorized("Incorrect API key provided."));
        assert_eq!(reply.status, 401);
        assert!(reply.headers.contains(&(
            "x-amzn-errortype".into(),
            "UnrecognizedClientException".into()
        )));
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body, json!({"message": "Incorrect API key provided."}));
        let denied = error_reply(&ApiError::new(403, "permission_error", "no"));
        assert!(denied
            .headers
            .contains(&("x-amzn-errortype".into(), "AccessDeniedException".into())));
    }
}
