//! OpenAI wire types (the parts clients send and expect).

pub mod chat;
pub mod embeddings;
pub mod responses;
