//! OpenAI `/v1/embeddings`: the request as clients send it and the list we answer with.

use crate::error::ApiError;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

/// OpenAI's own limit on the number of inputs in one request.
pub const MAX_INPUTS: usize = 2048;

#[derive(Debug, Deserialize)]
struct RawRequest {
    model: Option<Value>,
    input: Option<Value>,
    encoding_format: Option<String>,
    dimensions: Option<Value>,
    /// Not OpenAI: Cohere's `input_type` (`search_query`, `classification`, ...).
    input_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Float,
    /// Little-endian float32 bytes, base64-encoded.
    Base64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub inputs: Vec<String>,
    pub encoding: Encoding,
    pub dimensions: Option<u32>,
    pub input_type: Option<String>,
}

fn invalid(param: &str, message: &str) -> ApiError {
    ApiError::invalid_param(param, message)
}

fn token_arrays() -> ApiError {
    invalid(
        "input",
        "Token arrays are not supported: Bedrock embedding models take text. \
         Send 'input' as a string or a list of strings.",
    )
}

pub fn parse(body: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
    let raw: RawRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let model = match raw.model {
        Some(Value::String(m)) if !m.trim().is_empty() => m,
        _ => {
            return Err(invalid(
                "model",
                "'model' is required and must be a string.",
            ))
        }
    };
    let inputs = match raw.input {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(invalid("input", "'input' must not be an empty list."));
            }
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => texts.push(s),
                    Value::Number(_) | Value::Array(_) => return Err(token_arrays()),
                    _ => {
                        return Err(invalid(
                            "input",
                            "'input' must be a string or a list of strings.",
                        ))
                    }
                }
            }
            texts
        }
        Some(_) | None => {
            return Err(invalid(
                "input",
                "'input' is required: a string or a list of strings.",
            ))
        }
    };
    if inputs.len() > MAX_INPUTS {
        return Err(invalid(
            "input",
            &format!(
                "'input' has {} items; at most {MAX_INPUTS} are allowed.",
                inputs.len()
            ),
        ));
    }
    if inputs.iter().any(|s| s.is_empty()) {
        return Err(invalid("input", "'input' must not contain empty strings."));
    }
    let encoding = match raw.encoding_format.as_deref() {
        None | Some("float") => Encoding::Float,
        Some("base64") => Encoding::Base64,
        Some(other) => {
            return Err(invalid(
                "encoding_format",
                &format!("'encoding_format' must be 'float' or 'base64', got '{other}'."),
            ))
        }
    };
    let dimensions = match raw.dimensions {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| *d > 0)
                .ok_or_else(|| invalid("dimensions", "'dimensions' must be a positive integer."))?,
        ),
    };
    Ok(EmbeddingsRequest {
        model,
        inputs,
        encoding,
        dimensions,
        input_type: raw.input_type,
    })
}

fn encode(vector: &[f64], encoding: Encoding) -> Value {
    match encoding {
        Encoding::Float => json!(vector),
        Encoding::Base64 => {
            let mut bytes = Vec::with_capacity(vector.len().saturating_mul(4));
            for v in vector {
                // OpenAI's base64 format is float32; narrowing is the point.
                #[allow(clippy::cast_possible_truncation)]
                bytes.extend_from_slice(&(*v as f32).to_le_bytes());
            }
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// The OpenAI list body: vectors in input order.
pub fn response(
    model: &str,
    vectors: &[Vec<f64>],
    encoding: Encoding,
    prompt_tokens: u64,
) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| json!({"object": "embedding", "index": index, "embedding": encode(v, encoding)}))
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn string_and_list_inputs_parse_in_order() {
        let r = parse(br#"{"model":"m","input":"hi"}"#).unwrap();
        assert_eq!(r.inputs, ["hi"]);
        assert_eq!(r.encoding, Encoding::Float);
        let r = parse(
            br#"{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":256}"#,
        )
        .unwrap();
        assert_eq!(r.inputs, ["a", "b"]);
        assert_eq!(r.encoding, Encoding::Base64);
        assert_eq!(r.dimensions, Some(256));
    }

    #[test]
    fn token_arrays_and_bad_fields_are_clear_400s() {
        for body in [
            r#"{"model":"m","input":[1,2,3]}"#,
            r#"{"model":"m","input":[[1,2],[3]]}"#,
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains("Token arrays"), "{}", e.message);
        }
        for (body, param) in [
            (r#"{"model":"m","input":[]}"#, "input"),
            (r#"{"model":"m","input":[""]}"#, "input"),
            (r#"{"model":"m"}"#, "input"),
            (r#"{"input":"x"}"#, "model"),
            (
                r#"{"model":"m","input":"x","encoding_format":"int8"}"#,
                "encoding_format",
            ),
            (r#"{"model":"m","input":"x","dimensions":-3}"#, "dimensions"),
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{body}");
        }
    }

    #[test]
    fn base64_is_little_endian_float32() {
        let v = response("m", &[vec![1.0, -0.5]], Encoding::Base64, 3);
        let b64 = v["data"][0]["embedding"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat()
        );
        assert_eq!(v["usage"]["prompt_tokens"], 3);
        assert_eq!(v["usage"]["total_tokens"], 3);
        let v = response("m", &[vec![0.25], vec![0.5]], Encoding::Float, 2);
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][1]["embedding"][0], 0.5);
        assert_eq!(v["object"], "list");
    }
}
