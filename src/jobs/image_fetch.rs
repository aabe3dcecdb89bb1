//! Fetches a request's `http(s)` image URLs through Envoy before the request is translated:
//! plans the calls, checks each answer (status, content type, size, magic bytes) and puts the
//! images in the request as `data:` URLs. Any failure refuses the whole request.

use crate::config::ImageFetch;
use crate::error::ApiError;
use crate::jobs::image_urls::{check_url, find_remote_images, shown, substitute, FetchTarget};
use crate::router::Endpoint;
use crate::upstream::calls::{CallResponse, OutboundCall};
use base64::Engine;
use serde_json::Value;

/// Bedrock takes at most 20 images in one Converse request.
pub const MAX_IMAGES: usize = 20;
/// Fetches of one request in flight at once.
pub const MAX_IN_FLIGHT: usize = 4;

struct Download {
    url: String,
    target: FetchTarget,
    /// The first place that names it, for error messages.
    label: String,
    param: String,
    data_url: Option<String>,
}

pub struct ImageFetchJob {
    request: Value,
    downloads: Vec<Download>,
    /// Each URL's place in the request and the download that fills it.
    slots: Vec<(String, usize)>,
    next: usize,
    in_flight: usize,
}

/// What the job needs next.
#[derive(Debug, PartialEq)]
pub enum Progress {
    /// Dispatch these (none: wait for the answers in flight).
    Calls(Vec<OutboundCall>),
    /// Every image is in: the request body with `data:` URLs in their place.
    Done(Vec<u8>),
}

fn refused(param: &str, label: &str, url: &str, why: &str) -> ApiError {
    ApiError::invalid_param(
        param,
        format!(
            "{label}: the image URL '{}' was not fetched: {why}.",
            shown(url)
        ),
    )
    .with_code("unsupported_image_url")
}

fn failed(download: &Download, why: &str) -> ApiError {
    ApiError::invalid_param(
        &download.param,
        format!(
            "{}: the image at '{}' {why}.",
            download.label,
            shown(&download.url)
        ),
    )
    .with_code("invalid_image_url")
}

/// The image format Bedrock expects, from the file's first bytes.
pub fn sniff_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("gif")
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        Some("webp")
    } else {
        None
    }
}

/// The image as a `data:` URL, or why the answer is not one.
fn accept(response: &CallResponse, max_bytes: usize) -> Result<String, String> {
    if response.status == 0 {
        let reason = String::from_utf8_lossy(&response.body);
        return Err(format!("could not be fetched ({})", reason.trim()));
    }
    if !(200..300).contains(&response.status) {
        // Envoy's own 503/504 (connect, TLS or DNS failure, timeout) says why in plain text.
        return Err(match response.unreachable() {
            Some(text) if !text.is_empty() => {
                format!("could not be fetched: HTTP {} ({text})", response.status)
            }
            _ => format!(
                "could not be fetched: the server answered HTTP {}",
                response.status
            ),
        });
    }
    if let Some(kind) = response.header("content-type") {
        let kind = kind.trim();
        if !kind.to_ascii_lowercase().starts_with("image/") {
            return Err(format!("is not an image (content type '{kind}')"));
        }
    }
    let announced = response
        .header("content-length")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if response.body.len() > max_bytes || announced > max_bytes {
        return Err(format!("is larger than the {max_bytes}-byte image limit"));
    }
    if response.body.is_empty() {
        return Err("is empty".into());
    }
    let format = sniff_format(&response.body)
        .ok_or("is not a PNG, JPEG, GIF or WebP image (checked by its first bytes)")?;
    let data = base64::engine::general_purpose::STANDARD.encode(&response.body);
    Ok(format!("data:image/{format};base64,{data}"))
}

impl ImageFetchJob {
    /// `None` when the request names no `http(s)` image (or is not JSON: the translator
    /// says why). A URL the policy refuses, or too many images, is an error right away.
    pub fn plan(
        endpoint: &Endpoint,
        body: &[u8],
        policy: &ImageFetch,
    ) -> Result<Option<Self>, ApiError> {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return Ok(None);
        };
        let images = find_remote_images(endpoint, &request);
        if images.is_empty() {
            return Ok(None);
        }
        let mut downloads: Vec<Download> = Vec::new();
        let mut slots = Vec::new();
        for image in images {
            let index = match downloads.iter().position(|d| d.url == image.url) {
                Some(i) => i,
                None => {
                    let target = check_url(&image.url, policy)
                        .map_err(|why| refused(&image.param, &image.label, &image.url, &why))?;
                    downloads.push(Download {
                        url: image.url.clone(),
                        target,
                        label: image.label.clone(),
                        param: image.param.clone(),
                        data_url: None,
                    });
                    downloads.len().saturating_sub(1)
                }
            };
            slots.push((image.pointer, index));
        }
        if downloads.len() > MAX_IMAGES {
            return Err(ApiError::bad_request(format!(
                "Too many image URLs in one request: {} (at most {MAX_IMAGES}).",
                downloads.len()
            ))
            .with_code("too_many_images"));
        }
        Ok(Some(ImageFetchJob {
            request,
            downloads,
            slots,
            next: 0,
            in_flight: 0,
        }))
    }

    /// The model the client asked for, to check allow-lists before fetching anything.
    pub fn requested_model(&self) -> Option<&str> {
        self.request.get("model").and_then(Value::as_str)
    }

    /// The first calls.
    pub fn begin(&mut self, policy: &ImageFetch) -> Vec<OutboundCall> {
        self.more_calls(policy)
    }

    fn more_calls(&mut self, policy: &ImageFetch) -> Vec<OutboundCall> {
        let mut calls = Vec::new();
        while self.in_flight < MAX_IN_FLIGHT {
            let key = self.next;
            let Some(download) = self.downloads.get(key) else {
                break;
            };
            let target = &download.target;
            let cluster = if target.https {
                &policy.https_cluster
            } else {
                &policy.http_cluster
            };
            calls.push(OutboundCall {
                key,
                cluster: cluster.clone().unwrap_or_default(),
                headers: vec![
                    (":method".into(), "GET".into()),
                    (":path".into(), target.path.clone()),
                    (":authority".into(), target.authority.clone()),
                    (
                        "accept".into(),
                        "image/png,image/jpeg,image/gif,image/webp".into(),
                    ),
                    ("user-agent".into(), "bedrock-access-filter".into()),
                ],
                body: Vec::new(),
                timeout: policy.timeout,
                max_response_bytes: Some(policy.max_bytes),
            });
            self.next = self.next.saturating_add(1);
            self.in_flight = self.in_flight.saturating_add(1);
        }
        calls
    }

    /// One image's answer (status 0: no answer). An unusable image fails the request.
    pub fn on_response(
        &mut self,
        policy: &ImageFetch,
        key: usize,
        response: CallResponse,
    ) -> Result<Progress, ApiError> {
        let Some(download) = self.downloads.get_mut(key) else {
            return Ok(Progress::Calls(Vec::new()));
        };
        if download.data_url.is_some() {
            return Ok(Progress::Calls(Vec::new()));
        }
        let data_url = accept(&response, policy.max_bytes).map_err(|why| failed(download, &why))?;
        download.data_url = Some(data_url);
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.downloads.iter().all(|d| d.data_url.is_some()) {
            return self.finish().map(Progress::Done);
        }
        Ok(Progress::Calls(self.more_calls(policy)))
    }

    fn finish(&mut self) -> Result<Vec<u8>, ApiError> {
        let replacements: Vec<(String, String)> = self
            .slots
            .iter()
            .filter_map(|(pointer, i)| {
                let data = self.downloads.get(*i)?.data_url.clone()?;
                Some((pointer.clone(), data))
            })
            .collect();
        if replacements.len() != self.slots.len() || !substitute(&mut self.request, &replacements) {
            return Err(ApiError::internal(
                "fetched images could not be placed in the request",
            ));
        }
        serde_json::to_vec(&self.request)
            .map_err(|e| ApiError::internal(format!("request could not be re-encoded: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    fn policy() -> ImageFetch {
        ImageFetch {
            https_cluster: Some("image_fetch_tls".into()),
            http_cluster: Some("image_fetch_plain".into()),
            timeout: Duration::from_millis(1500),
            max_bytes: 64,
            allowed_hosts: vec!["example.com".into()],
        }
    }

    fn ok(content_type: &str, body: &[u8]) -> CallResponse {
        CallResponse {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.to_vec(),
        }
    }

    fn chat(urls: &[&str]) -> Vec<u8> {
        let parts: Vec<Value> = urls
            .iter()
            .map(|u| json!({"type": "image_url", "image_url": {"url": u}}))
            .collect();
        json!({"model": "m", "messages": [
            {"role": "user", "content": "first"},
            {"role": "user", "content": parts}]})
        .to_string()
        .into_bytes()
    }

    fn plan(body: &[u8]) -> ImageFetchJob {
        ImageFetchJob::plan(&Endpoint::ChatCompletions, body, &policy())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn magic_bytes_decide_the_format() {
        assert_eq!(sniff_format(PNG), Some("png"));
        assert_eq!(sniff_format(b"\xff\xd8\xff\xe0.."), Some("jpeg"));
        assert_eq!(sniff_format(b"GIF89a.."), Some("gif"));
        assert_eq!(sniff_format(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(sniff_format(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(sniff_format(b"<html>"), None);
    }

    #[test]
    fn calls_go_to_the_scheme_cluster_with_the_url_host_and_path() {
        let mut job = plan(&chat(&[
            "https://img.example.com/cat.png?v=2",
            "http://example.com/dog",
        ]));
        let calls = job.begin(&policy());
        assert_eq!(calls.len(), 2);
        let header = |c: &OutboundCall, n: &str| {
            c.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(calls[0].cluster, "image_fetch_tls");
        assert_eq!(
            header(&calls[0], ":authority").as_deref(),
            Some("img.example.com")
        );
        assert_eq!(header(&calls[0], ":path").as_deref(), Some("/cat.png?v=2"));
        assert_eq!(header(&calls[0], ":method").as_deref(), Some("GET"));
        assert_eq!(calls[1].cluster, "image_fetch_plain");
        assert_eq!(calls[0].timeout, Duration::from_millis(1500));
        assert_eq!(calls[0].max_response_bytes, Some(64));
        // Nothing secret travels: no authorization of any kind.
        assert!(calls.iter().all(|c| header(c, "authorization").is_none()));
    }

    #[test]
    fn fetched_bytes_replace_every_use_of_the_url() {
        let url = "https://example.com/cat.png";
        let mut job = plan(&chat(&[url, url]));
        let calls = job.begin(&policy());
        assert_eq!(calls.len(), 1, "one fetch per distinct URL");
        let Progress::Done(body) = job.on_response(&policy(), 0, ok("image/png", PNG)).unwrap()
        else {
            panic!("expected the finished body");
        };
        let v: Value = serde_json::from_slice(&body).unwrap();
        let expected = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(PNG)
        );
        assert_eq!(v["messages"][1]["content"][0]["image_url"]["url"], expected);
        assert_eq!(v["messages"][1]["content"][1]["image_url"]["url"], expected);
        assert_eq!(v["messages"][0]["content"], "first");
    }

    #[test]
    fn the_format_comes_from_the_bytes_not_the_content_type() {
        let mut job = plan(&chat(&["https://example.com/x"]));
        job.begin(&policy());
        let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF";
        let Progress::Done(body) = job
            .on_response(&policy(), 0, ok("image/png", jpeg))
            .unwrap()
        else {
            panic!("expected the finished body");
        };
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("data:image/jpeg;base64,"));
    }

    #[test]
    fn fetches_run_at_most_four_at_a_time() {
        let urls: Vec<String> = (0..6)
            .map(|i| format!("https://example.com/{i}.png"))
            .collect();
        let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
        let mut job = plan(&chat(&refs));
        let first = job.begin(&policy());
        assert_eq!(
            first.iter().map(|c| c.key).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let Progress::Calls(next) = job.on_response(&policy(), 2, ok("image/png", PNG)).unwrap()
        else {
            panic!("expected more calls");
        };
        assert_eq!(next.iter().map(|c| c.key).collect::<Vec<_>>(), [4]);
        for key in [0, 1, 3] {
            let Progress::Calls(next) = job
                .on_response(&policy(), key, ok("image/png", PNG))
                .unwrap()
            else {
                panic!("expected more calls");
            };
            assert!(next.len() <= 1);
        }
        let step = job.on_response(&policy(), 4, ok("image/png", PNG)).unwrap();
        assert_eq!(step, Progress::Calls(Vec::new()));
        assert!(matches!(
            job.on_response(&policy(), 5, ok("image/png", PNG)).unwrap(),
            Progress::Done(_)
        ));
    }

    #[test]
    fn bad_answers_fail_the_request_naming_the_image() {
        let many = vec![b'x'; 65];
        let mut big = ok("image/png", PNG);
        big.headers.push(("content-length".into(), "100000".into()));
        let cases: Vec<(CallResponse, &str)> = vec![
            (
                CallResponse {
                    status: 404,
                    headers: vec![("content-type".into(), "text/html".into())],
                    body: b"<h1>nope</h1>".to_vec(),
                },
                "HTTP 404",
            ),
            (
                ok("text/html", b"<html>"),
                "not an image (content type 'text/html')",
            ),
            (
                ok("image/png", &many),
                "larger than the 64-byte image limit",
            ),
            (big, "larger than"),
            (
                ok("image/png", b"not really a png"),
                "not a PNG, JPEG, GIF or WebP",
            ),
            (ok("image/png", b""), "is empty"),
            (
                CallResponse::failed("no answer: connection failed, reset or timed out"),
                "timed out",
            ),
            (
                CallResponse {
                    status: 503,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: b"no healthy upstream".to_vec(),
                },
                "HTTP 503 (no healthy upstream)",
            ),
        ];
        for (response, expected) in cases {
            let mut job = plan(&chat(&[
                "https://example.com/a.png",
                "https://example.com/cat.png",
            ]));
            job.begin(&policy());
            job.on_response(&policy(), 0, ok("image/png", PNG)).unwrap();
            let e = job.on_response(&policy(), 1, response).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.param.as_deref(), Some("messages[1].content[1]"));
            assert_eq!(e.code.as_deref(), Some("invalid_image_url"));
            assert!(
                e.message
                    .starts_with("messages[1]: the image at 'https://example.com/cat.png'"),
                "{}",
                e.message
            );
            assert!(
                e.message.contains(expected),
                "{} lacks {expected}",
                e.message
            );
        }
    }

    #[test]
    fn refused_urls_and_too_many_images_fail_before_any_call() {
        let e = ImageFetchJob::plan(
            &Endpoint::ChatCompletions,
            &chat(&["http://169.254.169.254/latest/meta-data/iam"]),
            &policy(),
        )
        .err()
        .unwrap();
        assert_eq!(e.status, 400);
        assert_eq!(e.code.as_deref(), Some("unsupported_image_url"));
        assert!(e.message.starts_with("messages[1]:"), "{}", e.message);
        let urls: Vec<String> = (0..21)
            .map(|i| format!("https://example.com/{i}.png"))
            .collect();
        let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
        let e = ImageFetchJob::plan(&Endpoint::ChatCompletions, &chat(&refs), &policy())
            .err()
            .unwrap();
        assert!(e.message.contains("at most 20"), "{}", e.message);
    }

    #[test]
    fn requests_without_remote_images_need_no_job() {
        for body in [
            chat(&["data:image/png;base64,AAAA"]),
            br#"{"model":"m","messages":[{"role":"user","content":"https://example.com/a.png"}]}"#
                .to_vec(),
            b"not json".to_vec(),
        ] {
            let planned = ImageFetchJob::plan(&Endpoint::ChatCompletions, &body, &policy());
            assert!(matches!(planned, Ok(None)));
        }
    }

    #[test]
    fn responses_images_are_fetched_too() {
        let body = json!({"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.com/a.gif"}]}]})
        .to_string();
        let mut job = ImageFetchJob::plan(&Endpoint::Responses, body.as_bytes(), &policy())
            .unwrap()
            .unwrap();
        assert_eq!(job.begin(&policy()).len(), 1);
        let Progress::Done(body) = job
            .on_response(&policy(), 0, ok("image/gif", b"GIF89a;"))
            .unwrap()
        else {
            panic!("expected the finished body");
        };
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["input"][0]["content"][0]["image_url"],
            "data:image/gif;base64,R0lGODlhOw=="
        );
    }
}
