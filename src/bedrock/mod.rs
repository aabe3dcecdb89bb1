//! Bedrock wire types: Converse requests/responses, ConverseStream events.

pub mod control_plane;
pub mod converse;
pub mod embeddings;
pub mod stream;
