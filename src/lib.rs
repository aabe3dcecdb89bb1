//! Bedrock Access Filter: an Envoy proxy-wasm filter that serves the OpenAI API on top of
//! Amazon Bedrock. Everything except `filter/` is a pure translation core that never calls the
//! host, so it is tested natively and on wasm32 alike.

pub mod error;
pub mod eventstream;
pub mod sse;
pub mod bedrock;
pub mod openai;
pub mod translate;

#[cfg(target_arch = "wasm32")]
mod filter;
