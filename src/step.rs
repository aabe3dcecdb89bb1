//! What the shell does next after handing the core a request callback or a call's answer.

use crate::local_reply::LocalReply;
use crate::upstream::calls::OutboundCall;
use crate::upstream::request::UpstreamRequest;

#[derive(Debug, PartialEq)]
pub enum Step {
    /// Let the request go on as it is.
    Continue,
    /// Hold the request: more body is coming, or the filter's own calls are running.
    Pause,
    /// Answer the client now; nothing goes upstream.
    Respond(LocalReply),
    /// Make these calls (their answers come back to the core), and hold the request.
    Dispatch(Vec<OutboundCall>),
    /// Put this rewritten request on the held one and let it go on to Bedrock.
    Forward(UpstreamRequest),
}

impl Step {
    pub fn error(e: &crate::error::ApiError) -> Self {
        Step::Respond(LocalReply::error(e))
    }
}
