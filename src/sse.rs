//! Server-sent events framing for the OpenAI streaming APIs.
//!
//! Chat Completions streams unnamed events (`data: <json>\n\n`, ending with `data: [DONE]\n\n`);
//! the Responses API streams named events (`event: <name>\ndata: <json>\n\n`). Compact JSON
//! never contains a raw newline (serde_json escapes them in strings), so one `data:` line suffices.

use serde::Serialize;

/// The terminator of a Chat Completions stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Appends `data: <json>\n\n`.
pub fn push_data<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    out.extend_from_slice(b"data: ");
    write_json(out, value);
    out.extend_from_slice(b"\n\n");
}

/// Appends `event: <name>\ndata: <json>\n\n`. Line breaks in `name` are dropped (they would end
/// the field early).
pub fn push_event<T: Serialize + ?Sized>(out: &mut Vec<u8>, name: &str, value: &T) {
    out.extend_from_slice(b"event: ");
    out.extend(name.bytes().filter(|b| *b != b'\n' && *b != b'\r'));
    out.extend_from_slice(b"\ndata: ");
    write_json(out, value);
    out.extend_from_slice(b"\n\n");
}

/// Appends `data: [DONE]\n\n`.
pub fn push_done(out: &mut Vec<u8>) {
    out.extend_from_slice(DONE);
}

/// Appends arbitrary text as one event, one `data:` line per input line (the SSE way to carry
/// line breaks).
pub fn push_text(out: &mut Vec<u8>, text: &str) {
    for line in text.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// `data: <json>\n\n` as a new buffer.
pub fn data<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    push_data(&mut out, value);
    out
}

/// `event: <name>\ndata: <json>\n\n` as a new buffer.
pub fn event<T: Serialize + ?Sized>(name: &str, value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    push_event(&mut out, name, value);
    out
}

/// `data: [DONE]\n\n` as a new buffer.
pub fn done() -> Vec<u8> {
    DONE.to_vec()
}

fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Serializing our own types and serde_json::Value cannot fail (no non-string map keys, no
    // failing Serialize impls); should it ever, emit `null` rather than a broken event.
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn data_event() {
        assert_eq!(
            data(&json!({"a": "x\ny"})),
            b"data: {\"a\":\"x\\ny\"}\n\n".to_vec()
        );
    }

    #[test]
    fn named_event() {
        assert_eq!(
            event("response.created", &json!({"type": "response.created"})),
            b"event: response.created\ndata: {\"type\":\"response.created\"}\n\n".to_vec()
        );
        assert_eq!(
            event("a\r\nb", &json!(1)),
            b"event: ab\ndata: 1\n\n".to_vec()
        );
    }

    #[test]
    fn done_event() {
        assert_eq!(done(), b"data: [DONE]\n\n".to_vec());
        let mut out = data(&json!(null));
        push_done(&mut out);
        assert_eq!(out, b"data: null\n\ndata: [DONE]\n\n".to_vec());
    }

    #[test]
    fn multi_line_text() {
        let mut out = Vec::new();
        push_text(&mut out, "a\r\nb\nc");
        assert_eq!(out, b"data: a\ndata: b\ndata: c\n\n".to_vec());
    }
}
