//! Bedrock's error answers (any non-2xx) read into the gateway's error.

use crate::error::ApiError;
use serde_json::Value;

/// Where AWS starts echoing what it signed: the canonical request holds the signed header
/// values (`x-amz-security-token` among them), so nothing from here on reaches a client.
const ECHO_MARKERS: &[&str] = &[
    "The Canonical String",
    "The String-to-Sign",
    "Canonical request",
];

/// A message from AWS with what can carry a secret removed: the echoed canonical request and
/// string to sign, any header line naming a token or signature, and each of `secrets`.
pub fn scrub(message: &str, secrets: &[&str]) -> String {
    let cut = ECHO_MARKERS
        .iter()
        .filter_map(|m| message.find(m))
        .min()
        .unwrap_or(message.len());
    let kept = message.get(..cut).unwrap_or(message);
    let mut clean: String = kept
        .lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            !["x-amz-security-token", "authorization:", "signature="]
                .iter()
                .any(|s| lower.contains(s))
        })
        .collect::<Vec<_>>()
        .join("\n");
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        clean = clean.replace(secret, "[redacted]");
    }
    clean.trim().to_string()
}

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
    ApiError::from_bedrock(status, &kind, &scrub(&message, &[]))
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

    #[test]
    fn echoed_canonical_requests_and_secrets_never_survive() {
        let token = "FwoGZXIvYXdzEXAMPLEsessionTOKEN";
        let echoed = format!(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.\n\nThe Canonical String for this \
             request should have been\n'POST\n/model/x/converse\n\nhost:h\nx-amz-security-token:{token}\n'\n\n\
             The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n...'"
        );
        let e = bedrock_error(
            403,
            Some("InvalidSignatureException"),
            serde_json::json!({"message": echoed})
                .to_string()
                .as_bytes(),
        );
        assert!(e.message.contains("does not match the signature"));
        assert!(!e.message.contains(token) && !e.message.contains("Canonical"));
        assert_eq!(
            scrub("key AKIDEXAMPLE1234 leaked", &["AKIDEXAMPLE1234"]),
            "key [redacted] leaked"
        );
        assert_eq!(scrub("x-amz-security-token:abc\nok", &[]), "ok");
    }
}
