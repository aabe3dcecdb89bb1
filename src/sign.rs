//! Authorization headers for a Bedrock request, computed over the final path and body.

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

fn sigv4(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
    input: &SignInput<'_>,
) -> Result<Headers, ApiError> {
    let who = crate::sigv4_cached::Credentials {
        access_key_id,
        secret_access_key,
        session_token,
    };
    match crate::sigv4_cached::sign(input, &who) {
        Some(headers) => Ok(headers),
        None => sigv4_any_request(access_key_id, secret_access_key, session_token, input),
    }
}

/// aws-sigv4's signer, for any request shape.
fn sigv4_any_request(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
    input: &SignInput<'_>,
) -> Result<Headers, ApiError> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;

    let failed = |what: &str, e: &dyn std::fmt::Display| {
        // The message never contains key material: the signer's errors name fields only.
        ApiError::internal(format!("could not sign the Bedrock request ({what}): {e}"))
    };
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_string),
            None,
            "bedrock-access-filter",
        )
        .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(input.region)
        .name(input.service)
        .time(input.now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed("parameters", &e))?
        .into();
    let url = format!("https://{}{}", input.host, input.path);
    let headers = [("host", input.host), ("content-type", input.content_type)];
    let request = SignableRequest::new(
        input.method,
        &url,
        headers.into_iter(),
        SignableBody::Bytes(input.body),
    )
    .map_err(|e| failed("request", &e))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| failed("signature", &e))?
        .into_parts();
    let (signed_headers, _query) = instructions.into_parts();
    Ok(signed_headers
        .into_iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect())
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
                                let expected =
                                    sigv4_any_request("AKIDEXAMPLE", secret, token, &inp).unwrap();
                                let cached = crate::sigv4_cached::sign(
                                    &inp,
                                    &crate::sigv4_cached::Credentials {
                                        access_key_id: "AKIDEXAMPLE",
                                        secret_access_key: secret,
                                        session_token: token,
                                    },
                                )
                                .unwrap();
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
            let who = crate::sigv4_cached::Credentials {
                access_key_id: "AKIDEXAMPLE",
                secret_access_key: "s",
                session_token: None,
            };
            assert!(crate::sigv4_cached::sign(&inp, &who).is_none(), "{path}");
        }
        let mut inp = input(b"{}");
        inp.path = "/model/x/converse?a=b";
        let h = authorize(&creds(None), &inp).unwrap();
        assert!(header(&h, "authorization").is_some());
    }
}
