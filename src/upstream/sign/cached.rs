//! SigV4 for the request shape this filter sends on every chat call, with the day's signing
//! key cached. aws-sigv4's one-shot signer derives the key (four HMACs) and builds a generic
//! canonical request on every call; in the Wasm VM that was about half of the signing time.
//! Only the simple shape is handled here: no query, a path of unreserved characters, `/` and
//! `%`, header values without spaces. `any_shape` (aws-sigv4) signs everything else, and the
//! tests check that both give identical headers over many inputs.

use super::{Credentials, SignInput};
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use aws_smithy_types::date_time::{DateTime, Format};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::time::SystemTime;

struct SigningKey {
    secret_access_key: String,
    date: String,
    region: String,
    service: String,
    key: Vec<u8>,
}

thread_local! {
    // One VM signs with one identity and region, so one entry is enough; it turns over daily.
    static SIGNING_KEY: RefCell<Option<SigningKey>> = const { RefCell::new(None) };
}

/// The headers to add (`x-amz-date`, `authorization`, `x-amz-security-token` when there is a
/// session token, in aws-sigv4's order), or None when the request is not of the simple shape.
pub fn sign(r: &SignInput<'_>, who: &Credentials<'_>) -> Option<Vec<(String, String)>> {
    if !is_simple(r, who) {
        return None;
    }
    let amz_date = amz_date(r.now)?;
    let date = amz_date.get(..8)?;
    let signed_headers = if who.session_token.is_some() {
        "content-type;host;x-amz-date;x-amz-security-token"
    } else {
        "content-type;host;x-amz-date"
    };
    let token_line = who
        .session_token
        .map(|t| format!("x-amz-security-token:{t}\n"))
        .unwrap_or_default();
    let canonical_request = format!(
        "{}\n{}\n\ncontent-type:{}\nhost:{}\nx-amz-date:{amz_date}\n{token_line}\n{signed_headers}\n{}",
        r.method,
        encode_path_again(r.path),
        r.content_type,
        r.host,
        hex_sha256(r.body),
    );
    let scope = format!("{date}/{}/{}/aws4_request", r.region, r.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical_request.as_bytes())
    );
    let signature = with_signing_key(r, who.secret_access_key, date, |key| {
        calculate_signature(key, string_to_sign.as_bytes())
    });
    let mut headers = vec![
        ("x-amz-date".to_string(), amz_date.clone()),
        (
            "authorization".to_string(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                who.access_key_id
            ),
        ),
    ];
    if let Some(token) = who.session_token {
        headers.push(("x-amz-security-token".to_string(), token.to_string()));
    }
    Some(headers)
}

fn with_signing_key<T>(
    r: &SignInput<'_>,
    secret_access_key: &str,
    date: &str,
    use_key: impl FnOnce(&[u8]) -> T,
) -> T {
    SIGNING_KEY.with(|cell| {
        let mut cached = cell.borrow_mut();
        let fresh = cached.as_ref().is_some_and(|k| {
            k.date == date
                && k.region == r.region
                && k.service == r.service
                && k.secret_access_key == secret_access_key
        });
        if !fresh {
            let key = generate_signing_key(secret_access_key, r.now, r.region, r.service);
            *cached = Some(SigningKey {
                secret_access_key: secret_access_key.to_string(),
                date: date.to_string(),
                region: r.region.to_string(),
                service: r.service.to_string(),
                key: key.as_ref().to_vec(),
            });
        }
        use_key(
            cached
                .as_ref()
                .map(|k| k.key.as_slice())
                .unwrap_or_default(),
        )
    })
}

/// Inputs for which the canonical request needs no normalisation at all: what aws-sigv4
/// would trim, collapse, resolve or re-encode differently is left to aws-sigv4.
fn is_simple(r: &SignInput<'_>, who: &Credentials<'_>) -> bool {
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    let path_ok = r.path.starts_with('/')
        && r.path
            .bytes()
            .all(|b| is_unreserved(b) || b == b'/' || b == b'%')
        && !r.path.contains("//")
        && !r
            .path
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    r.method.bytes().all(|b| b.is_ascii_uppercase())
        && !r.method.is_empty()
        && path_ok
        && token(r.host)
        && token(r.content_type)
        && token(who.access_key_id)
        && who.session_token.is_none_or(token)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The canonical URI: the path as sent (already percent-encoded once) encoded once more,
/// which for a simple path only turns `%` into `%25`.
fn encode_path_again(path: &str) -> String {
    path.replace('%', "%25")
}

/// `YYYYMMDDTHHMMSSZ` in UTC, whole seconds.
fn amz_date(now: SystemTime) -> Option<String> {
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    let iso = DateTime::from_secs(i64::try_from(secs).ok()?)
        .fmt(Format::DateTime)
        .ok()?;
    Some(iso.chars().filter(|c| *c != '-' && *c != ':').collect())
}

fn hex_sha256(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}
