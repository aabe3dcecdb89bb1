//! Bedrock Access Filter: an Envoy proxy-wasm filter that serves the OpenAI API on top of
//! Amazon Bedrock. Everything except `filter/` is a pure translation core that never calls the
//! host, so it is tested natively and on wasm32 alike.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod bedrock;
pub mod calls;
pub mod config;
pub mod error;
pub mod eventstream;
pub mod exchange;
pub mod header_map;
pub mod observability;
pub mod openai;
pub mod router;
pub mod sign;
pub mod sigv4_cached;
pub mod sse;
pub mod translate;

#[cfg(target_os = "wasi")]
mod filter;
