//! Decoding of the proxy-wasm header-map encoding the host hands back: a count, then a
//! (name length, value length) pair per header, then each name and value followed by a NUL.
//!
//! The SDK's own decoder panics on values that are not UTF-8, and Envoy passes such bytes
//! (obs-text) through from clients, so one Latin-1 header would kill the VM. This decoder
//! never panics: bad UTF-8 is replaced, and a malformed map ends the list early.

/// Headers in order; names and values converted lossily to UTF-8.
pub fn decode(bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(count) = read_u32(bytes, 0) else {
        return out;
    };
    let Some(mut data) = count.checked_mul(8).and_then(|n| n.checked_add(4)) else {
        return out;
    };
    for i in 0..count {
        let Some(sizes_at) = i.checked_mul(8).and_then(|n| n.checked_add(4)) else {
            break;
        };
        let (Some(name_len), Some(value_len)) = (
            read_u32(bytes, sizes_at),
            sizes_at.checked_add(4).and_then(|at| read_u32(bytes, at)),
        ) else {
            break;
        };
        let Some((name, after_name)) = take(bytes, data, name_len) else {
            break;
        };
        let Some((value, after_value)) = take(bytes, after_name, value_len) else {
            break;
        };
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
        data = after_value;
    }
    out
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let end = at.checked_add(4)?;
    let raw: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(raw)).ok()
}

/// `len` bytes at `at`, and the offset after them and their NUL.
fn take(bytes: &[u8], at: usize, len: usize) -> Option<(&[u8], usize)> {
    let end = at.checked_add(len)?;
    let slice = bytes.get(at..end)?;
    Some((slice, end.checked_add(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn encode(headers: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (headers.len() as u32).to_le_bytes().to_vec();
        for (n, v) in headers {
            out.extend((n.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (n, v) in headers {
            out.extend(*n);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn decodes_what_the_host_sends() {
        let bytes = encode(&[(b":path", b"/v1/chat/completions"), (b"x-empty", b"")]);
        assert_eq!(
            decode(&bytes),
            vec![
                (":path".to_string(), "/v1/chat/completions".to_string()),
                ("x-empty".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn latin1_header_value_is_kept_lossily_instead_of_panicking() {
        let bytes = encode(&[(b"x-note", b"caf\xe9"), (b"authorization", b"Bearer k")]);
        let headers = decode(&bytes);
        assert_eq!(headers[0], ("x-note".into(), "caf\u{fffd}".into()));
        assert_eq!(headers[1], ("authorization".into(), "Bearer k".into()));
    }

    #[test]
    fn malformed_maps_end_early() {
        assert!(decode(b"").is_empty());
        assert!(decode(&u32::MAX.to_le_bytes()).is_empty());
        let mut bytes = encode(&[(b"a", b"1"), (b"b", b"2")]);
        bytes.truncate(bytes.len() - 3);
        assert_eq!(decode(&bytes), vec![("a".to_string(), "1".to_string())]);
        // A length pointing past the end.
        let mut lying = encode(&[(b"a", b"1")]);
        lying[4] = 200;
        assert!(decode(&lying).is_empty());
    }
}
