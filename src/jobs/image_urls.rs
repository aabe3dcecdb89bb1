//! Remote image URLs in a request: where they are, whether the gateway may fetch them, and
//! putting fetched bytes in their place as `data:` URLs, so the translators see inline images.

use crate::config::ImageFetch;
use crate::router::Endpoint;
use serde_json::Value;

/// One `http(s)` image URL in the request JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteImage {
    /// JSON pointer to the URL string.
    pub pointer: String,
    pub url: String,
    /// Where it is, as error messages name it: `messages[2]`, `input[0]`.
    pub label: String,
    /// The `param` of an error about it: `messages[2].content[1]`.
    pub param: String,
}

/// A URL the gateway may fetch, split for an Envoy call.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchTarget {
    pub https: bool,
    /// `host[:port]`, the call's `:authority` (the forward proxy resolves it).
    pub authority: String,
    /// Path and query; the fragment is dropped.
    pub path: String,
}

fn is_remote(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Every `http(s)` image URL where the endpoint's translator accepts images: chat user
/// messages, Responses user messages and function outputs.
pub fn find_remote_images(endpoint: &Endpoint, request: &Value) -> Vec<RemoteImage> {
    let mut found = Vec::new();
    let mut add = |pointer: String, url: &str, label: String, param: String| {
        if is_remote(url) {
            found.push(RemoteImage {
                pointer,
                url: url.to_string(),
                label,
                param,
            });
        }
    };
    let (list, parts_key_of): (&str, fn(&Value) -> Option<&'static str>) = match endpoint {
        Endpoint::ChatCompletions => ("messages", |m| {
            (m.get("role").and_then(Value::as_str) == Some("user")).then_some("content")
        }),
        Endpoint::Responses => ("input", |item| {
            match item.get("type").and_then(Value::as_str) {
                Some("function_call_output" | "custom_tool_call_output") => Some("output"),
                Some("message") | None => {
                    (item.get("role").and_then(Value::as_str) == Some("user")).then_some("content")
                }
                Some(_) => None,
            }
        }),
        _ => return found,
    };
    let items = request.get(list).and_then(Value::as_array);
    for (i, item) in items.into_iter().flatten().enumerate() {
        let Some(key) = parts_key_of(item) else {
            continue;
        };
        let parts = item.get(key).and_then(Value::as_array);
        for (j, part) in parts.into_iter().flatten().enumerate() {
            let label = format!("{list}[{i}]");
            let param = format!("{list}[{i}].{key}[{j}]");
            let base = format!("/{list}/{i}/{key}/{j}/image_url");
            match (
                part.get("type").and_then(Value::as_str),
                part.get("image_url"),
            ) {
                (Some("image_url"), Some(Value::String(url)))
                | (Some("input_image"), Some(Value::String(url))) => add(base, url, label, param),
                (Some("image_url"), Some(Value::Object(obj))) => {
                    if let Some(url) = obj.get("url").and_then(Value::as_str) {
                        add(format!("{base}/url"), url, label, param);
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// Replaces the URL at each pointer with its `data:` URL; false if a pointer went missing.
pub fn substitute(request: &mut Value, replacements: &[(String, String)]) -> bool {
    replacements
        .iter()
        .all(|(pointer, data_url)| match request.pointer_mut(pointer) {
            Some(slot @ Value::String(_)) => {
                *slot = Value::String(data_url.clone());
                true
            }
            _ => false,
        })
}

/// Checks `url` against the fetch policy; the error says why it is refused.
pub fn check_url(url: &str, policy: &ImageFetch) -> Result<FetchTarget, String> {
    let (https, rest) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        _ => return Err("only http:// and https:// image URLs can be fetched".into()),
    };
    let cluster = if https {
        &policy.https_cluster
    } else {
        &policy.http_cluster
    };
    if cluster.is_none() {
        let scheme = if https { "https" } else { "http" };
        return Err(format!(
            "{scheme}:// image URLs are not fetched by this gateway"
        ));
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err("image URLs with user credentials are not fetched".into());
    }
    let (host, port) = split_port(authority)?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err("the image URL has no host".into());
    }
    if !host_allowed(&host, &policy.allowed_hosts)? {
        return Err(format!("host '{host}' is not allowed for image URLs"));
    }
    let path = encode_path(path)?;
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let authority = match port {
        Some(port) => format!("{}:{port}", bracket(&host)),
        None => bracket(&host),
    };
    Ok(FetchTarget {
        https,
        authority,
        path,
    })
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `host:port`, `[v6]:port` → host (without brackets) and port.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("malformed IPv6 host in image URL")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| "invalid port in image URL")?),
    };
    Ok((host, port))
}

/// True for hosts that name an address rather than a name: IPv4/IPv6 literals and the
/// numeric forms resolvers accept (`2130706433`, `0x7f.1`).
fn is_ip_literal(host: &str) -> bool {
    if host.contains(':') {
        return true;
    }
    let last = host.rsplit('.').next().unwrap_or(host);
    last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x")
}

fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// Listed hosts (and their subdomains) are allowed, literals included; with no list, any
/// host name except IP literals and localhost.
fn host_allowed(host: &str, allowed: &[String]) -> Result<bool, String> {
    let literal = is_ip_literal(host);
    if !literal
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(format!("'{host}' is not a valid host name"));
    }
    let listed = allowed.iter().any(|entry| {
        host == entry
            || (!literal
                && host
                    .strip_suffix(entry.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.')))
    });
    if !allowed.is_empty() {
        return Ok(listed);
    }
    Ok(!literal && !is_localhost(host))
}

/// Keeps the path as sent, percent-encoding bytes HTTP does not allow raw (spaces, non-ASCII).
fn encode_path(path: &str) -> Result<String, String> {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            0..=0x1f | 0x7f => return Err("the image URL contains control characters".into()),
            b' ' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^' | 0x80..=0xff => {
                out.push_str(&format!("%{b:02X}"))
            }
            _ => out.push(char::from(b)),
        }
    }
    Ok(out)
}

/// The URL without its query, shortened, for error messages (queries may carry signatures).
pub fn shown(url: &str) -> String {
    let bare = url.split(['?', '#']).next().unwrap_or(url);
    if bare.chars().count() > 120 {
        let cut: String = bare.chars().take(117).collect();
        format!("{cut}...")
    } else {
        bare.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn policy(allowed: &[&str]) -> ImageFetch {
        ImageFetch {
            https_cluster: Some("tls".into()),
            http_cluster: Some("plain".into()),
            timeout: Duration::from_secs(1),
            max_bytes: 100,
            allowed_hosts: allowed.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn chat_urls_are_found_in_user_parts_only() {
        let request = json!({"messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [
                {"type": "text", "text": "see https://not-an-image.example/"},
                {"type": "image_url", "image_url": {"url": "https://a.example/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": "HTTP://b.example/dog.jpg"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": [
                {"type": "image_url", "image_url": {"url": "https://c.example/x.png"}}]}]});
        let found = find_remote_images(&Endpoint::ChatCompletions, &request);
        let summary: Vec<_> = found
            .iter()
            .map(|f| {
                (
                    f.pointer.as_str(),
                    f.url.as_str(),
                    f.label.as_str(),
                    f.param.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "/messages/1/content/1/image_url/url",
                    "https://a.example/cat.png",
                    "messages[1]",
                    "messages[1].content[1]"
                ),
                (
                    "/messages/1/content/2/image_url",
                    "HTTP://b.example/dog.jpg",
                    "messages[1]",
                    "messages[1].content[2]"
                ),
            ]
        );
    }

    #[test]
    fn responses_urls_are_found_in_user_messages_and_tool_outputs() {
        let request = json!({"input": [
            {"role": "user", "content": [{"type": "input_image", "image_url": "https://a.example/1.png"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "input_image", "image_url": "https://x.example/"}]},
            {"type": "function_call_output", "call_id": "c", "output": [
                {"type": "input_text", "text": "t"},
                {"type": "input_image", "image_url": "http://b.example/2.gif"}]}]});
        let found = find_remote_images(&Endpoint::Responses, &request);
        let pointers: Vec<_> = found.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/input/0/content/0/image_url",
                "/input/2/output/1/image_url"
            ]
        );
        assert_eq!(found[1].label, "input[2]");
        // A plain-string input has no images.
        assert!(find_remote_images(&Endpoint::Responses, &json!({"input": "hi"})).is_empty());
    }

    #[test]
    fn substitution_puts_data_urls_in_place() {
        let mut request = json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://a.example/cat.png"}}]}]});
        let pointer = "/messages/0/content/0/image_url/url".to_string();
        assert!(substitute(
            &mut request,
            &[(pointer, "data:image/png;base64,QQ==".into())]
        ));
        assert_eq!(
            request["messages"][0]["content"][0]["image_url"]["url"],
            "data:image/png;base64,QQ=="
        );
        assert!(!substitute(&mut request, &[("/nope".into(), "x".into())]));
    }

    #[test]
    fn urls_split_into_authority_and_path() {
        let p = policy(&[]);
        let t = check_url("https://Img.Example.com/a b/c.png?sig=1#frag", &p).unwrap();
        assert_eq!(
            t,
            FetchTarget {
                https: true,
                authority: "img.example.com".into(),
                path: "/a%20b/c.png?sig=1".into()
            }
        );
        let t = check_url("http://img.example.com:8080?x=1", &p).unwrap();
        assert_eq!(
            (t.https, t.authority.as_str(), t.path.as_str()),
            (false, "img.example.com:8080", "/?x=1")
        );
    }

    #[test]
    fn literals_localhost_and_odd_urls_are_refused_by_default() {
        let p = policy(&[]);
        for url in [
            "http://127.0.0.1/x.png",
            "http://10.0.0.1:8080/x.png",
            "http://[::1]/x.png",
            "http://2130706433/x.png",
            "http://0x7f.1/x.png",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/x.png",
            "http://api.localhost/x.png",
            "http://user:pw@example.com/x.png",
            "ftp://example.com/x.png",
            "file:///etc/passwd",
            "http://exa mple.com/x.png",
            "http://example.com:99999/x.png",
            "http:///x.png",
        ] {
            assert!(check_url(url, &p).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn an_allow_list_admits_listed_hosts_subdomains_and_literals_only() {
        let p = policy(&["example.com", "127.0.0.1"]);
        assert!(check_url("https://example.com/a.png", &p).is_ok());
        assert!(check_url("https://img.example.com/a.png", &p).is_ok());
        assert!(check_url("http://127.0.0.1:9000/a.png", &p).is_ok());
        for url in [
            "https://badexample.com/a.png",
            "https://example.com.evil.net/a.png",
            "http://127.0.0.2/a.png",
            "http://localhost/a.png",
        ] {
            assert!(check_url(url, &p).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn a_scheme_without_its_cluster_is_refused() {
        let mut p = policy(&[]);
        p.http_cluster = None;
        let err = check_url("http://example.com/a.png", &p).unwrap_err();
        assert!(err.contains("http://"), "{err}");
        assert!(check_url("https://example.com/a.png", &p).is_ok());
    }

    #[test]
    fn shown_urls_drop_the_query() {
        assert_eq!(
            shown("https://a.example/x.png?X-Amz-Signature=s"),
            "https://a.example/x.png"
        );
        assert!(shown(&format!("https://a.example/{}", "x".repeat(300))).ends_with("..."));
    }
}
