//! Content blocks every API builds the same way: inline images and tool-call arguments.

use crate::bedrock::converse::{ContentBlock, ImageBlock, ImageSource, MAX_IMAGE_BYTES};
use crate::error::ApiError;
use base64::Engine;
use serde_json::{json, Value};

/// `data:image/png;base64,...` → an image block. Remote URLs are refused: the gateway does
/// not fetch arbitrary URLs on a client's behalf.
pub fn image_block(url: &str, index: usize) -> Result<ContentBlock, ApiError> {
    let param = format!("messages[{index}].content");
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(ApiError::invalid_param(
            &param,
            format!(
                "messages[{index}]: image URLs are not fetched by this gateway; send the image \
                 inline as a data: URL (data:image/png;base64,...)."
            ),
        )
        .with_code("unsupported_image_url"));
    };
    let (meta, data) = rest.split_once(',').ok_or_else(|| {
        ApiError::invalid_param(&param, format!("messages[{index}]: malformed data: URL."))
    })?;
    let mime = meta.strip_suffix(";base64").ok_or_else(|| {
        ApiError::invalid_param(
            &param,
            format!("messages[{index}]: data: URL must be base64."),
        )
    })?;
    let format = match mime.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(ApiError::invalid_param(
                &param,
                format!(
                "messages[{index}]: image type '{other}' is not supported (png, jpeg, gif, webp)."
            ),
            ))
        }
    };
    // 4 base64 characters carry 3 bytes: refuse oversized images before decoding them.
    if (data.len() / 4).saturating_mul(3) > MAX_IMAGE_BYTES.saturating_add(3) {
        return Err(image_too_large(&param, index));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| {
            ApiError::invalid_param(
                &param,
                format!("messages[{index}]: image data is not valid base64."),
            )
        })?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(image_too_large(&param, index));
    }
    Ok(ContentBlock::Image(ImageBlock {
        format: format.to_string(),
        source: ImageSource {
            bytes: base64::engine::general_purpose::STANDARD.encode(&bytes),
        },
    }))
}

fn image_too_large(param: &str, index: usize) -> ApiError {
    ApiError::invalid_param(
        param,
        format!("messages[{index}]: image is larger than Bedrock's 3.75 MB limit."),
    )
}

/// Tool arguments as the JSON object Bedrock requires. OpenAI accepts any string, so
/// anything else (empty, truncated, a bare value) is kept under a key instead of failing.
pub fn arguments_object(arguments: Option<&str>) -> Value {
    let raw = arguments.unwrap_or("").trim();
    if raw.is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(other) => json!({ "value": other }),
        Err(_) => json!({ "raw_arguments": raw }),
    }
}
