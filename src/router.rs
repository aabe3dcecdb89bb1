//! Which gateway endpoint a method and path address. `/v1/...` and BAG's `/api/v1/...` both work.

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    /// The Responses API (`POST /v1/responses`).
    Responses,
    Embeddings,
    Models,
    Model(String),
    Health,
    /// The Anthropic Messages API (`POST /v1/messages`).
    Messages,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
    /// Bedrock Runtime's own API (`POST /model/{id}/{action}`), passed through.
    Bedrock(RuntimeCall),
    /// The control-plane calls Claude Code's Bedrock mode makes: `GET /inference-profiles`
    /// (the raw query kept) and `GET /inference-profiles/{id}`.
    Profiles(ProfilesCall),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfilesCall {
    List { query: String },
    Get(String),
}

impl Endpoint {
    /// Endpoints that call a model (and so count against quotas).
    pub fn uses_models(&self) -> bool {
        matches!(
            self,
            Endpoint::ChatCompletions
                | Endpoint::Responses
                | Endpoint::Embeddings
                | Endpoint::Messages
                | Endpoint::CountTokens
                | Endpoint::Bedrock(_)
        )
    }
}

/// A Bedrock Runtime operation on one model, as an AWS SDK or Claude Code sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeCall {
    /// The model id as the client named it (the path segment, URL-decoded).
    pub model_id: String,
    pub action: RuntimeAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeAction {
    Invoke,
    InvokeStream,
    Converse,
    ConverseStream,
    CountTokens,
}

impl RuntimeAction {
    fn parse(segment: &str) -> Option<Self> {
        Some(match segment {
            "invoke" => RuntimeAction::Invoke,
            "invoke-with-response-stream" => RuntimeAction::InvokeStream,
            "converse" => RuntimeAction::Converse,
            "converse-stream" => RuntimeAction::ConverseStream,
            "count-tokens" => RuntimeAction::CountTokens,
            _ => return None,
        })
    }

    /// The path segment Bedrock Runtime names it by.
    pub fn segment(self) -> &'static str {
        match self {
            RuntimeAction::Invoke => "invoke",
            RuntimeAction::InvokeStream => "invoke-with-response-stream",
            RuntimeAction::Converse => "converse",
            RuntimeAction::ConverseStream => "converse-stream",
            RuntimeAction::CountTokens => "count-tokens",
        }
    }

    /// Whether the answer is an AWS event stream.
    pub fn streams(self) -> bool {
        matches!(
            self,
            RuntimeAction::InvokeStream | RuntimeAction::ConverseStream
        )
    }
}

/// Decodes `%XX` escapes in a path segment (model ids in `/v1/models/{id}` may be encoded).
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = segment.get(i.saturating_add(1)..i.saturating_add(3))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i = i.saturating_add(3);
        } else {
            out.push(b);
            i = i.saturating_add(1);
        }
    }
    String::from_utf8(out).ok()
}

pub fn route(method: &str, path: &str) -> Result<Endpoint, ApiError> {
    let full_path = path;
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path == "/health" || path == "/api/v1/health" || path == "/v1/health" {
        return Ok(Endpoint::Health);
    }
    // Claude Code's preconnect (`HEAD /`): answered like the health check.
    if path == "/" && matches!(method, "HEAD" | "GET") {
        return Ok(Endpoint::Health);
    }
    if let Some(rest) = path.strip_prefix("/model/") {
        return runtime_call(method, path, rest);
    }
    if path == "/inference-profiles" || path.starts_with("/inference-profiles/") {
        return profiles_call(method, full_path, path);
    }
    let rest = path
        .strip_prefix("/api/v1/")
        .or_else(|| path.strip_prefix("/v1/"))
        .ok_or_else(|| not_found(path))?;
    let rest = rest.trim_end_matches('/');
    let (endpoint, allowed) = match rest {
        "chat/completions" => (Endpoint::ChatCompletions, "POST"),
        "responses" => (Endpoint::Responses, "POST"),
        "embeddings" => (Endpoint::Embeddings, "POST"),
        "messages" => (Endpoint::Messages, "POST"),
        "messages/count_tokens" => (Endpoint::CountTokens, "POST"),
        "models" => (Endpoint::Models, "GET"),
        _ => match rest.strip_prefix("models/") {
            Some(id) if !id.is_empty() => {
                let id = percent_decode(id).ok_or_else(|| not_found(path))?;
                (Endpoint::Model(id), "GET")
            }
            _ => return Err(not_found(path)),
        },
    };
    if method != allowed {
        return Err(ApiError::method_not_allowed(format!(
            "Method {method} is not allowed on {path}; use {allowed}."
        )));
    }
    Ok(endpoint)
}

/// `{id}/{action}` after `/model/`; the id may hold `:` and `/` percent-encoded.
fn runtime_call(method: &str, path: &str, rest: &str) -> Result<Endpoint, ApiError> {
    let (id, action) = rest.rsplit_once('/').ok_or_else(|| not_found(path))?;
    let action = RuntimeAction::parse(action).ok_or_else(|| not_found(path))?;
    let model_id = percent_decode(id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| not_found(path))?;
    if method != "POST" {
        return Err(ApiError::method_not_allowed(format!(
            "Method {method} is not allowed on {path}; use POST."
        )));
    }
    Ok(Endpoint::Bedrock(RuntimeCall { model_id, action }))
}

/// ListInferenceProfiles (its query kept when it holds only plain query characters) or
/// GetInferenceProfile (the id URL-decoded).
fn profiles_call(method: &str, full_path: &str, path: &str) -> Result<Endpoint, ApiError> {
    if method != "GET" {
        return Err(ApiError::method_not_allowed(format!(
            "Method {method} is not allowed on {path}; use GET."
        )));
    }
    if let Some(id) = path.strip_prefix("/inference-profiles/") {
        let id = percent_decode(id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| not_found(path))?;
        return Ok(Endpoint::Profiles(ProfilesCall::Get(id)));
    }
    let query = full_path
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(""))
        .unwrap_or("");
    let plain = query
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~%=&+".contains(&b));
    if !plain {
        return Err(ApiError::bad_request("Invalid query string."));
    }
    Ok(Endpoint::Profiles(ProfilesCall::List {
        query: query.to_string(),
    }))
}

fn not_found(path: &str) -> ApiError {
    let shown: String = path.chars().take(200).collect();
    ApiError::not_found(format!("Unknown endpoint {shown}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn both_prefixes_route_and_methods_are_checked() {
        assert_eq!(
            route("POST", "/v1/chat/completions"),
            Ok(Endpoint::ChatCompletions)
        );
        assert_eq!(
            route("POST", "/api/v1/chat/completions?x=1"),
            Ok(Endpoint::ChatCompletions)
        );
        assert_eq!(route("GET", "/v1/models"), Ok(Endpoint::Models));
        assert_eq!(route("POST", "/v1/responses"), Ok(Endpoint::Responses));
        assert_eq!(route("POST", "/api/v1/responses/"), Ok(Endpoint::Responses));
        assert_eq!(route("GET", "/v1/responses").unwrap_err().status, 405);
        assert_eq!(
            route("POST", "/api/v1/embeddings"),
            Ok(Endpoint::Embeddings)
        );
        assert_eq!(route("GET", "/v1/embeddings").unwrap_err().status, 405);
        assert_eq!(
            route(
                "GET",
                "/api/v1/models/us.anthropic.claude-3-haiku-20240307-v1%3A0"
            ),
            Ok(Endpoint::Model(
                "us.anthropic.claude-3-haiku-20240307-v1:0".into()
            ))
        );
        assert_eq!(
            route("GET", "/v1/chat/completions").unwrap_err().status,
            405
        );
        assert_eq!(route("POST", "/v1/nope").unwrap_err().status, 404);
        // Bedrock's own paths route to the passthrough (issue 16); anything else is unknown.
        assert_eq!(route("POST", "/model/x").unwrap_err().status, 404);
        assert_eq!(route("GET", "/health"), Ok(Endpoint::Health));
        assert_eq!(route("HEAD", "/"), Ok(Endpoint::Health));
        assert_eq!(
            route("POST", "/v1/messages?beta=true"),
            Ok(Endpoint::Messages)
        );
        assert_eq!(
            route("POST", "/v1/messages/count_tokens?beta=true"),
            Ok(Endpoint::CountTokens)
        );
    }

    #[test]
    fn bedrock_runtime_paths_route_with_the_model_id_decoded() {
        let call = |path: &str| match route("POST", path) {
            Ok(Endpoint::Bedrock(call)) => Some((call.model_id, call.action)),
            _ => None,
        };
        assert_eq!(
            call("/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream"),
            Some((
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0".to_string(),
                RuntimeAction::InvokeStream
            ))
        );
        assert_eq!(
            call("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fab/converse"),
            Some((
                "arn:aws:bedrock:us-east-1:1:application-inference-profile/ab".to_string(),
                RuntimeAction::Converse
            ))
        );
        assert_eq!(
            call("/model/m/invoke?x=1").map(|c| c.1),
            Some(RuntimeAction::Invoke)
        );
        assert_eq!(
            call("/model/m/count-tokens").map(|c| c.1),
            Some(RuntimeAction::CountTokens)
        );
        assert_eq!(call("/model/m/delete"), None);
        assert_eq!(call("/model//invoke"), None);
        assert_eq!(route("GET", "/model/m/invoke").unwrap_err().status, 405);
    }

    #[test]
    fn inference_profile_calls_route_to_the_control_plane() {
        assert_eq!(
            route(
                "GET",
                "/inference-profiles?type=SYSTEM_DEFINED&maxResults=10"
            ),
            Ok(Endpoint::Profiles(ProfilesCall::List {
                query: "type=SYSTEM_DEFINED&maxResults=10".into()
            }))
        );
        assert_eq!(
            route("GET", "/inference-profiles/arn:aws:bedrock:us-east-1:1:application-inference-profile%2Fab"),
            Ok(Endpoint::Profiles(ProfilesCall::Get(
                "arn:aws:bedrock:us-east-1:1:application-inference-profile/ab".into()
            )))
        );
        assert_eq!(
            route("POST", "/inference-profiles").unwrap_err().status,
            405
        );
        assert_eq!(
            route("GET", "/inference-profiles?a=<b>")
                .unwrap_err()
                .status,
            400
        );
    }
}
