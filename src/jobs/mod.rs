//! Endpoints and steps the filter completes with calls of its own (Envoy `dispatch_http_call`):
//! the model list, the embeddings fan-out and fetching remote images.

pub mod embeddings;
pub mod image_fetch;
pub mod image_urls;
pub mod models;
pub mod profiles;
