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

pub mod api;
pub mod bedrock;
pub mod capabilities;
pub mod config;
pub mod converse;
pub mod error;
pub mod exchange;
pub mod header_map;
pub mod jobs;
pub mod local_reply;
pub mod observability;
pub mod policy;
pub mod router;
pub mod sse;
pub mod stable_hash;
pub mod step;
pub mod stream;
pub mod upstream;

#[cfg(test)]
mod test_support;

#[cfg(target_os = "wasi")]
mod filter;
