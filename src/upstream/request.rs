//! The one builder of signed requests to AWS: the client's request rewritten for Bedrock and
//! the filter's own calls (control plane, embeddings) get their headers here.

use crate::config::Config;
use crate::error::ApiError;
use crate::upstream::sign::{self, SignInput};
use std::time::SystemTime;

/// The rewritten request for Bedrock: headers to set and remove, and the new body.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    pub set_headers: Vec<(String, String)>,
    pub remove_headers: Vec<String>,
    pub body: Vec<u8>,
}

/// Where a request goes and what it carries.
pub struct Signed<'a> {
    pub method: &'a str,
    /// `:authority`, also the host SigV4 signs for.
    pub host: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    /// `application/json`, or `application/vnd.amazon.eventstream` for a streamed answer.
    pub accept: &'a str,
}

const CONTENT_TYPE: &str = "application/json";

/// Every header a request to Bedrock (runtime or control plane; both sign as service
/// `bedrock`) needs: pseudo-headers, content type and length, accept, and the upstream auth.
pub fn signed_headers(
    config: &Config,
    request: &Signed<'_>,
    now: SystemTime,
) -> Result<Vec<(String, String)>, ApiError> {
    let auth = sign::authorize(
        &config.upstream_auth,
        &SignInput {
            method: request.method,
            host: request.host,
            path: request.path,
            content_type: CONTENT_TYPE,
            body: request.body,
            region: &config.region,
            service: "bedrock",
            now,
        },
    )?;
    let mut headers = vec![
        (":method".to_string(), request.method.to_string()),
        (":path".to_string(), request.path.to_string()),
        (":authority".to_string(), request.host.to_string()),
        ("content-type".to_string(), CONTENT_TYPE.to_string()),
    ];
    if request.method != "GET" {
        headers.push(("content-length".to_string(), request.body.len().to_string()));
    }
    headers.push(("accept".to_string(), request.accept.to_string()));
    headers.extend(auth);
    Ok(headers)
}
