//! Building Bedrock Converse requests, shared by every API that translates into Converse
//! (chat, Responses, and Anthropic Messages for non-Claude models). Nothing here knows any one
//! client API: each API reads its own fields and hands the parts to [`assemble::assemble`].

pub mod assemble;
pub mod caching;
pub mod content;
pub mod conversation;
pub mod reasoning;
pub mod structured_output;
pub mod tools;
