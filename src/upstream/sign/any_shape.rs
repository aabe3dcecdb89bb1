//! aws-sigv4's signer, for any request shape.

use super::{Credentials, Headers, SignInput};
use crate::error::ApiError;

/// aws-sigv4's signer, for any request shape.
pub fn sign(input: &SignInput<'_>, who: &Credentials<'_>) -> Result<Headers, ApiError> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;

    let failed = |what: &str, e: &dyn std::fmt::Display| {
        // The message never contains key material: the signer's errors name fields only.
        ApiError::internal(format!("could not sign the Bedrock request ({what}): {e}"))
    };
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(
            who.access_key_id,
            who.secret_access_key,
            who.session_token.map(str::to_string),
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
