//! A complete answer from the gateway itself (errors, health, model lists, embeddings): the
//! shell sends it with Envoy's local reply and nothing goes upstream.

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl LocalReply {
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        LocalReply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    pub fn error(e: &ApiError) -> Self {
        Self::json(e.status, e.to_body()).with_retry_after(e)
    }

    /// `retry-after` when the error says when to retry.
    pub fn with_retry_after(mut self, e: &ApiError) -> Self {
        if let Some(seconds) = e.retry_after {
            self.headers
                .push(("retry-after".into(), seconds.to_string()));
        }
        self
    }
}
