//! Streamed answers: the AWS event-stream frame decoder and the one driver every API's stream
//! translator plugs its event handlers into.

pub mod driver;
pub mod eventstream;
