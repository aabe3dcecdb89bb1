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
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path == "/health" || path == "/api/v1/health" || path == "/v1/health" {
        return Ok(Endpoint::Health);
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
        assert_eq!(route("POST", "/model/x/converse").unwrap_err().status, 404);
        assert_eq!(route("GET", "/health"), Ok(Endpoint::Health));
    }
}
