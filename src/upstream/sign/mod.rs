//! Authorization headers for a Bedrock request, computed over the final path and body: a
//! Bedrock API key, nothing (Envoy's aws_request_signing signs), or SigV4 — by `cached` for the
//! request shape we send on every call, by aws-sigv4 (`any_shape`) for the rest.

mod any_shape;
mod cached;

use crate::config::UpstreamAuth;
use crate::error::ApiError;
use std::time::SystemTime;

/// What to send: every header here replaces whatever the request carried.
pub type Headers = Vec<(String, String)>;

pub struct SignInput<'a> {
    pub method: &'a str,
    /// Host (with port when not default): also sent as `:authority`.
    pub host: &'a str,
    /// Path as sent, model id already percent-encoded once.
    pub path: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
    pub region: &'a str,
    /// Signing service name (`bedrock` for both runtime and control plane).
    pub service: &'a str,
    pub now: SystemTime,
}

pub fn authorize(auth: &UpstreamAuth, input: &SignInput<'_>) -> Result<Headers, ApiError> {
    match auth {
        UpstreamAuth::SigV4 {
            access_key_id,
            secret_access_key,
            session_token,
        } => sigv4(
            access_key_id,
            secret_access_key,
            session_token.as_deref(),
            input,
        ),
        UpstreamAuth::ApiKey(key) => Ok(vec![("authorization".into(), format!("Bearer {key}"))]),
        // Envoy's aws_request_signing filter adds the signature upstream.
        UpstreamAuth::Envoy => Ok(Vec::new()),
    }
}

/// Who signs: the static or session credentials of `UpstreamAuth::SigV4`.
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// The cached signer for the shape we send; aws-sigv4 for anything else.
fn sigv4(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
    input: &SignInput<'_>,
) -> Result<Headers, ApiError> {
    let who = Credentials {
        access_key_id,
        secret_access_key,
        session_token,
    };
    match cached::sign(input, &who) {
        Some(headers) => Ok(headers),
        None => any_shape::sign(input, &who),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn input<'a>(body: &'a [u8]) -> SignInput<'a> {
        SignInput {
            method: "POST",
            host: "bedrock-runtime.us-east-1.amazonaws.com",
            path: "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
            content_type: "application/json",
            body,
            region: "us-east-1",
            service: "bedrock",
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_633_051),
        }
    }

    fn creds(token: Option<&str>) -> UpstreamAuth {
        UpstreamAuth::SigV4 {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
        }
    }

    fn header<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn sigv4_scopes_to_bedrock_and_changes_with_body() {
        let a = authorize(&creds(None), &input(b"{}")).unwrap();
        let b = authorize(&creds(None), &input(b"{ }")).unwrap();
        let auth = header(&a, "authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/bedrock/aws4_request"
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{auth}"
        );
        assert_eq!(header(&a, "x-amz-date"), Some("20261125T185731Z"));
        assert_ne!(header(&a, "authorization"), header(&b, "authorization"));
        assert!(header(&a, "x-amz-security-token").is_none());
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let h = authorize(&creds(Some("tok")), &input(b"{}")).unwrap();
        assert_eq!(header(&h, "x-amz-security-token"), Some("tok"));
        assert!(header(&h, "authorization")
            .unwrap()
            .contains("x-amz-security-token"));
    }

    #[test]
    fn api_key_mode_sends_bearer_and_envoy_mode_nothing() {
        let h = authorize(&UpstreamAuth::ApiKey("bk".into()), &input(b"{}")).unwrap();
        assert_eq!(
            h,
            vec![("authorization".to_string(), "Bearer bk".to_string())]
        );
        assert!(authorize(&UpstreamAuth::Envoy, &input(b"{}"))
            .unwrap()
            .is_empty());
    }

    /// The cached-key signer must give exactly what aws-sigv4 gives, for every shape it takes.
    #[test]
    fn cached_key_signer_matches_aws_sigv4() {
        let paths = [
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream",
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse",
            "/model/amazon.titan-embed-text-v2%3A0/invoke",
            "/foundation-models",
            "/a/b/",
            "/model/a..b/converse",
            "/model/x%2e%2E/converse",
        ];
        let hosts = ["bedrock-runtime.us-east-1.amazonaws.com", "127.0.0.1:8080"];
        let bodies: [&[u8]; 4] = [b"", b"{}", b"{\"messages\":[]}", &[b'x'; 5000]];
        let mut checked = 0;
        // Several days, and back again: a stale cached key would show as a mismatch.
        for day in [0u64, 1, 400, 0, 10_000] {
            for (i, path) in paths.iter().enumerate() {
                for host in hosts {
                    for body in bodies {
                        for token in [None, Some("FwoGZXIvYXdzEBYaD+/token=")] {
                            for (region, secret) in [
                                ("us-east-1", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                ("eu-west-3", "other/secret+key"),
                            ] {
                                let mut inp = input(body);
                                inp.path = path;
                                inp.host = host;
                                inp.region = region;
                                inp.method = if i % 2 == 0 { "POST" } else { "GET" };
                                inp.now = SystemTime::UNIX_EPOCH
                                    + Duration::from_secs(1_795_633_051 + day * 86_400 + i as u64);
                                let who = Credentials {
                                    access_key_id: "AKIDEXAMPLE",
                                    secret_access_key: secret,
                                    session_token: token,
                                };
                                let expected = any_shape::sign(&inp, &who).unwrap();
                                let cached = cached::sign(&inp, &who).unwrap();
                                assert_eq!(cached, expected, "{path} {host} {region} day {day}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn shapes_the_cached_signer_leaves_to_aws_sigv4_are_still_signed() {
        for path in [
            "/model/x/converse?a=b",
            "/model/../converse",
            "/model//converse",
            "/model/a b/converse",
        ] {
            let mut inp = input(b"{}");
            inp.path = path;
            let who = Credentials {
                access_key_id: "AKIDEXAMPLE",
                secret_access_key: "s",
                session_token: None,
            };
            assert!(cached::sign(&inp, &who).is_none(), "{path}");
        }
        let mut inp = input(b"{}");
        inp.path = "/model/x/converse?a=b";
        let h = authorize(&creds(None), &inp).unwrap();
        assert!(header(&h, "authorization").is_some());
    }
}
