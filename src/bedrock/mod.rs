//! Bedrock wire types: Converse requests/responses, ConverseStream events.

pub mod converse;
pub mod stream;
