//! The filter's own upstream calls (`dispatch_http_call`): dispatches what the exchange asks
//! for and feeds each answer back, until the exchange has the client's reply.

use super::host;
use crate::calls::{CallResponse, CallStep};
use crate::config::Config;
use crate::exchange::{Exchange, LocalReply, UpstreamRequest};
use crate::translate::models::ModelCache;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::SystemTime;

#[derive(Default)]
pub struct OwnCalls {
    /// Shared by every HTTP context of the VM (set by the root context).
    models: Rc<RefCell<ModelCache>>,
    /// Envoy's token → the exchange's call key and the most of the answer to read.
    pending: BTreeMap<u32, (usize, Option<usize>)>,
}

/// How the exchange's calls ended.
pub enum Finished {
    /// Answer the client.
    Reply(LocalReply),
    /// Send the (held) request on, rewritten.
    Forward(UpstreamRequest),
}

fn now() -> SystemTime {
    host::now()
}

impl OwnCalls {
    pub fn new(models: Rc<RefCell<ModelCache>>) -> Self {
        OwnCalls {
            models,
            pending: BTreeMap::new(),
        }
    }

    /// Starts the exchange's calls; `Some` when it can answer right away.
    pub fn start(
        &mut self,
        exchange: &mut Exchange,
        config: &Config,
        body: &[u8],
    ) -> Option<Finished> {
        let step = match self.models.try_borrow_mut() {
            Ok(mut models) => exchange.start_calls(config, body, now(), &mut models),
            Err(_) => exchange.start_calls(config, body, now(), &mut ModelCache::default()),
        };
        self.run(exchange, config, step)
    }

    /// Envoy delivered a call's answer; `num_headers` 0 means the call failed.
    pub fn on_response(
        &mut self,
        exchange: &mut Exchange,
        config: &Config,
        token: u32,
        num_headers: usize,
        body_size: usize,
    ) -> Option<Finished> {
        let (key, max_bytes) = self.pending.remove(&token)?;
        let response = if num_headers == 0 {
            CallResponse::failed("no answer: connection failed, reset or timed out")
        } else {
            let headers = host::headers(MapType::HttpCallResponseHeaders);
            let status = headers
                .iter()
                .find(|(n, _)| n == ":status")
                .and_then(|(_, v)| v.parse::<u16>().ok())
                .unwrap_or(502);
            // One byte past the limit is enough for the core to refuse an oversized answer.
            let wanted = max_bytes.map_or(body_size, |max| body_size.min(max.saturating_add(1)));
            let body = if wanted > 0 {
                host::body(BufferType::HttpCallResponseBody, wanted)
            } else {
                Vec::new()
            };
            CallResponse {
                status,
                headers,
                body,
            }
        };
        let step = self.feed(exchange, config, key, response);
        self.run(exchange, config, step)
    }

    fn feed(
        &mut self,
        exchange: &mut Exchange,
        config: &Config,
        key: usize,
        response: CallResponse,
    ) -> CallStep {
        match self.models.try_borrow_mut() {
            Ok(mut models) => exchange.on_call_response(config, key, response, now(), &mut models),
            Err(_) => {
                exchange.on_call_response(config, key, response, now(), &mut ModelCache::default())
            }
        }
    }

    /// Dispatches until the exchange waits or answers. A call Envoy refuses to dispatch
    /// (unknown cluster, bad headers) is fed back as a failed answer.
    pub fn run(
        &mut self,
        exchange: &mut Exchange,
        config: &Config,
        step: CallStep,
    ) -> Option<Finished> {
        let mut steps = VecDeque::from([step]);
        while let Some(step) = steps.pop_front() {
            match step {
                CallStep::Reply(reply) => {
                    self.pending.clear();
                    return Some(Finished::Reply(reply));
                }
                CallStep::Forward(request) => {
                    self.pending.clear();
                    return Some(Finished::Forward(request));
                }
                CallStep::Wait => {}
                CallStep::Dispatch(calls) => {
                    for call in calls {
                        let headers: Vec<(&str, &str)> = call
                            .headers
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .collect();
                        let body = (!call.body.is_empty()).then_some(call.body.as_slice());
                        // The SDK's call (it registers the token for on_http_call_response);
                        // Envoy answers only Ok, BadArgument or InternalFailure, all handled.
                        match hostcalls::dispatch_http_call(
                            &call.cluster,
                            headers,
                            body,
                            Vec::new(),
                            call.timeout,
                        ) {
                            Ok(token) => {
                                self.pending
                                    .insert(token, (call.key, call.max_response_bytes));
                            }
                            Err(status) => {
                                log::warn!(
                                    "dispatch to cluster {} failed: {status:?}",
                                    call.cluster
                                );
                                let reason = format!(
                                    "Envoy could not call cluster '{}' ({status:?}); is it configured?",
                                    call.cluster
                                );
                                let failed = CallResponse::failed(&reason);
                                steps.push_back(self.feed(exchange, config, call.key, failed));
                            }
                        }
                    }
                }
            }
        }
        if self.pending.is_empty() {
            // Nothing in flight and no answer: never leave the client hanging.
            let e =
                crate::error::ApiError::internal("the gateway's own calls ended without an answer");
            return Some(Finished::Reply(LocalReply::error(&e)));
        }
        None
    }
}
