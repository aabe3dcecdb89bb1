//! Bedrock wire types: Converse requests/responses, ConverseStream events, control-plane
//! answers, embeddings bodies, model ids in paths, and error answers.

pub mod answer_events;
pub mod control_plane;
pub mod converse;
pub mod embeddings;
pub mod errors;
pub mod eventstream;
pub mod invoke_stream;
pub mod model_id;
pub mod stream;
