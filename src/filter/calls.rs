//! The filter's own calls (`dispatch_http_call`): makes the calls the core asks for and keeps
//! Envoy's token for each, so that each answer goes back to the core under its key.

use super::host;
use crate::upstream::calls::{CallResponse, OutboundCall};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct OwnCalls {
    /// Envoy's token → the call (its key and answer size limit).
    pending: BTreeMap<u32, OutboundCall>,
}

impl OwnCalls {
    /// Makes the call; when Envoy refuses to, the answer the core gets for it instead.
    pub fn dispatch(&mut self, call: OutboundCall) -> Result<(), (usize, CallResponse)> {
        let headers: Vec<(&str, &str)> = call
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = (!call.body.is_empty()).then_some(call.body.as_slice());
        // The SDK's call (it registers the token for on_http_call_response); Envoy answers
        // only Ok, BadArgument or InternalFailure, all handled.
        let dispatched =
            hostcalls::dispatch_http_call(&call.cluster, headers, body, Vec::new(), call.timeout);
        match dispatched {
            Ok(token) => {
                self.pending.insert(
                    token,
                    OutboundCall {
                        headers: Vec::new(),
                        body: Vec::new(),
                        ..call
                    },
                );
                Ok(())
            }
            Err(status) => {
                log::warn!("dispatch to cluster {} failed: {status:?}", call.cluster);
                let refused = CallResponse::not_dispatched(&call.cluster, &format!("{status:?}"));
                Err((call.key, refused))
            }
        }
    }

    /// The answer Envoy delivered for `token`, with the call's key; None for a token this
    /// request did not make.
    pub fn answer(&mut self, token: u32, body_size: usize) -> Option<(usize, CallResponse)> {
        let call = self.pending.remove(&token)?;
        let headers = host::headers(MapType::HttpCallResponseHeaders);
        let body = host::body(
            BufferType::HttpCallResponseBody,
            call.bytes_to_read(body_size),
        );
        Some((call.key, CallResponse::received(headers, body)))
    }
}
