//! Streamed answers: the one driver every API's stream translator plugs its event handlers
//! into, and the event sources it reads (Bedrock's two kinds of event stream).

pub mod driver;
pub mod sources;
