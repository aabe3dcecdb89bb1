//! Reading a client's JSON request body into its typed form, with errors that name the field.

use crate::error::ApiError;
use serde_json::Value;

/// Parses a request body straight into `T`: one pass, no intermediate `Value`. Only a body
/// that fails that pass is parsed again the slow way, to name what is wrong with it (the
/// slow way also accepts what serde's derive refuses but a `Value` keeps, e.g. repeated keys).
pub fn parse_object<T: serde::de::DeserializeOwned>(
    body: &[u8],
    required: &[&str],
) -> Result<T, ApiError> {
    match serde_json::from_slice(body) {
        Ok(parsed) => Ok(parsed),
        Err(_) => parse_object_explained(body, required),
    }
}

fn parse_object_explained<T: serde::de::DeserializeOwned>(
    body: &[u8],
    required: &[&str],
) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("Request body must be a JSON object."));
    }
    for field in required {
        if value.get(field).is_none_or(Value::is_null) {
            return Err(ApiError::invalid_param(
                field,
                format!("Missing required parameter: '{field}'."),
            ));
        }
    }
    typed(value)
}

/// Deserializes a request object; a type error names the field at fault (`messages[2].role`).
pub fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = format!("Invalid request body at '{path}': {}", e.inner());
        if path == "." {
            ApiError::bad_request(message)
        } else {
            ApiError::invalid_param(&path, message)
        }
    })
}
