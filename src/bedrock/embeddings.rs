//! InvokeModel bodies and answers of the Bedrock embedding models we serve. Titan and Nova
//! embed one text per call; Cohere embeds up to 96 texts per call.

use crate::capabilities::base_model_id;
use crate::error::ApiError;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    TitanV1,
    TitanV2,
    CohereV3,
    CohereV4,
    NovaMultimodal,
}

pub const SUPPORTED: &str = "Amazon Titan Text Embeddings v1 (amazon.titan-embed-text-v1) and \
    v2 (amazon.titan-embed-text-v2:0), Cohere Embed v3 (cohere.embed-english-v3, \
    cohere.embed-multilingual-v3), Cohere Embed v4 (cohere.embed-v4:0) and Amazon Nova \
    multimodal embeddings (amazon.nova-2-multimodal-embeddings-v1:0)";

/// Cohere's limit on texts per call.
pub const COHERE_MAX_TEXTS: usize = 96;

pub fn family(model_id: &str) -> Option<Family> {
    let id = base_model_id(model_id);
    if id.starts_with("amazon.titan-embed-text-v1") || id.starts_with("amazon.titan-embed-g1-text")
    {
        Some(Family::TitanV1)
    } else if id.starts_with("amazon.titan-embed-text-v2") {
        Some(Family::TitanV2)
    } else if id.starts_with("cohere.embed-english-v3")
        || id.starts_with("cohere.embed-multilingual-v3")
    {
        Some(Family::CohereV3)
    } else if id.starts_with("cohere.embed-v4") {
        Some(Family::CohereV4)
    } else if id.starts_with("amazon.nova-2-multimodal-embeddings") {
        Some(Family::NovaMultimodal)
    } else {
        None
    }
}

impl Family {
    /// Texts per InvokeModel call.
    pub fn batch_size(self) -> usize {
        match self {
            Family::CohereV3 | Family::CohereV4 => COHERE_MAX_TEXTS,
            Family::TitanV1 | Family::TitanV2 | Family::NovaMultimodal => 1,
        }
    }

    /// The vector sizes a model can return; the first is what it returns by default.
    fn dimensions(self) -> &'static [u32] {
        match self {
            Family::TitanV1 => &[1536],
            Family::TitanV2 => &[1024, 512, 256],
            Family::CohereV3 => &[1024],
            Family::CohereV4 => &[1536, 1024, 512, 256],
            Family::NovaMultimodal => &[3072, 1024, 384, 256],
        }
    }

    pub fn check_dimensions(self, model: &str, dimensions: Option<u32>) -> Result<(), ApiError> {
        match dimensions {
            Some(d) if !self.dimensions().contains(&d) => {
                let allowed: Vec<String> =
                    self.dimensions().iter().map(|d| d.to_string()).collect();
                Err(ApiError::invalid_param(
                    "dimensions",
                    format!(
                        "'dimensions' {d} is not available for {model}; it supports {}.",
                        allowed.join(", ")
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The InvokeModel body for these texts (one text unless Cohere).
    pub fn request(
        self,
        texts: &[String],
        dimensions: Option<u32>,
        input_type: Option<&str>,
    ) -> Value {
        let first = texts.first().map(String::as_str).unwrap_or("");
        match self {
            Family::TitanV1 => json!({"inputText": first}),
            Family::TitanV2 => {
                let mut body = json!({"inputText": first, "normalize": true});
                if let (Some(d), Some(obj)) = (dimensions, body.as_object_mut()) {
                    obj.insert("dimensions".into(), json!(d));
                }
                body
            }
            Family::CohereV3 => json!({
                "texts": texts,
                "input_type": input_type.unwrap_or("search_document"),
            }),
            Family::CohereV4 => {
                let mut body = json!({
                    "texts": texts,
                    "input_type": input_type.unwrap_or("search_document"),
                    "embedding_types": ["float"],
                });
                if let (Some(d), Some(obj)) = (dimensions, body.as_object_mut()) {
                    obj.insert("output_dimension".into(), json!(d));
                }
                body
            }
            Family::NovaMultimodal => json!({
                "schemaVersion": "nova-multimodal-embed-v1",
                "taskType": "SINGLE_EMBEDDING",
                "singleEmbeddingParams": {
                    "embeddingPurpose": nova_purpose(input_type),
                    "embeddingDimension": dimensions.unwrap_or(3072),
                    "text": {"truncationMode": "END", "value": first},
                },
            }),
        }
    }

    /// The vectors of one answer, in text order, and the input token count when given.
    pub fn parse(
        self,
        body: &[u8],
        expected: usize,
    ) -> Result<(Vec<Vec<f64>>, Option<u64>), String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let (vectors, tokens) = match self {
            Family::TitanV1 | Family::TitanV2 => (
                vec![floats(v.get("embedding"))?],
                v.get("inputTextTokenCount").and_then(Value::as_u64),
            ),
            // `embeddings` is a list of vectors (v3 default) or, by type, `{"float": [...]}`.
            Family::CohereV3 | Family::CohereV4 => {
                let embeddings = v.get("embeddings");
                let list = embeddings
                    .and_then(|e| e.get("float"))
                    .or(embeddings)
                    .and_then(Value::as_array)
                    .ok_or("no float embeddings in the answer")?;
                let vectors = list
                    .iter()
                    .map(|e| floats(Some(e)))
                    .collect::<Result<Vec<_>, _>>()?;
                (vectors, None)
            }
            Family::NovaMultimodal => {
                let first = v
                    .get("embeddings")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|e| e.get("embedding"));
                (vec![floats(first)?], None)
            }
        };
        if vectors.len() != expected {
            return Err(format!(
                "expected {expected} embeddings, got {}",
                vectors.len()
            ));
        }
        Ok((vectors, tokens))
    }
}

/// Nova's `embeddingPurpose` from Cohere-style input types (the Nova names pass as they are).
fn nova_purpose(input_type: Option<&str>) -> String {
    match input_type {
        None | Some("search_document") => "GENERIC_INDEX".into(),
        Some("search_query") => "GENERIC_RETRIEVAL".into(),
        Some(other) => other.to_ascii_uppercase(),
    }
}

fn floats(value: Option<&Value>) -> Result<Vec<f64>, String> {
    value
        .and_then(Value::as_array)
        .ok_or("no embedding in the answer")?
        .iter()
        .map(|x| {
            x.as_f64()
                .ok_or_else(|| "an embedding value is not a number".to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn texts(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn families_by_id_including_profiles() {
        assert_eq!(family("amazon.titan-embed-text-v1"), Some(Family::TitanV1));
        assert_eq!(
            family("amazon.titan-embed-text-v2:0"),
            Some(Family::TitanV2)
        );
        assert_eq!(
            family("cohere.embed-multilingual-v3"),
            Some(Family::CohereV3)
        );
        assert_eq!(family("us.cohere.embed-v4:0"), Some(Family::CohereV4));
        assert_eq!(
            family("amazon.nova-2-multimodal-embeddings-v1:0"),
            Some(Family::NovaMultimodal)
        );
        assert_eq!(family("anthropic.claude-3-haiku-20240307-v1:0"), None);
    }

    #[test]
    fn titan_bodies_and_answers() {
        assert_eq!(
            Family::TitanV1.request(&texts(&["hi"]), None, None),
            json!({"inputText": "hi"})
        );
        assert_eq!(
            Family::TitanV2.request(&texts(&["hi"]), Some(256), None),
            json!({"inputText": "hi", "normalize": true, "dimensions": 256})
        );
        let (v, tokens) = Family::TitanV2
            .parse(br#"{"embedding":[0.5,-1],"inputTextTokenCount":4}"#, 1)
            .unwrap();
        assert_eq!((v, tokens), (vec![vec![0.5, -1.0]], Some(4)));
        assert!(Family::TitanV1.check_dimensions("m", Some(256)).is_err());
        assert!(Family::TitanV2.check_dimensions("m", Some(512)).is_ok());
    }

    #[test]
    fn cohere_bodies_and_both_answer_shapes() {
        assert_eq!(
            Family::CohereV3.request(&texts(&["a", "b"]), None, None),
            json!({"texts": ["a", "b"], "input_type": "search_document"})
        );
        assert_eq!(
            Family::CohereV4.request(&texts(&["a"]), Some(512), Some("search_query")),
            json!({"texts": ["a"], "input_type": "search_query",
                   "embedding_types": ["float"], "output_dimension": 512})
        );
        let v3 = br#"{"id":"x","texts":["a","b"],"embeddings":[[1],[2]],"response_type":"embeddings_floats"}"#;
        assert_eq!(
            Family::CohereV3.parse(v3, 2).unwrap().0,
            vec![vec![1.0], vec![2.0]]
        );
        let v4 =
            br#"{"id":"x","embeddings":{"float":[[3],[4]]},"response_type":"embeddings_by_type"}"#;
        assert_eq!(
            Family::CohereV4.parse(v4, 2).unwrap().0,
            vec![vec![3.0], vec![4.0]]
        );
        assert!(Family::CohereV4.parse(v4, 3).is_err());
        assert!(Family::CohereV3.check_dimensions("m", Some(512)).is_err());
    }

    #[test]
    fn nova_single_embedding_body_and_answer() {
        let body =
            Family::NovaMultimodal.request(&texts(&["hi"]), Some(1024), Some("search_query"));
        assert_eq!(
            body,
            json!({"schemaVersion": "nova-multimodal-embed-v1", "taskType": "SINGLE_EMBEDDING",
                   "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_RETRIEVAL",
                     "embeddingDimension": 1024,
                     "text": {"truncationMode": "END", "value": "hi"}}})
        );
        let answer = br#"{"embeddings":[{"embeddingType":"TEXT","embedding":[0.25]}]}"#;
        assert_eq!(
            Family::NovaMultimodal.parse(answer, 1).unwrap(),
            (vec![vec![0.25]], None)
        );
    }
}
