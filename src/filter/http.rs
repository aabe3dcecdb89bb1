//! HTTP context: hands each callback's headers and bytes to the exchange and carries out the
//! step it returns.

use super::calls::OwnCalls;
use super::host;
use super::metrics::Metrics;
use crate::config::Config;
use crate::exchange::{is_bedrock_header, BodyAction, Exchange, Host, RequestHead};
use crate::jobs::models::ModelCache;
use crate::local_reply::LocalReply;
use crate::observability;
use crate::step::Step;
use crate::upstream::request::UpstreamRequest;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

pub struct Http {
    config: Rc<Config>,
    metrics: Rc<RefCell<Metrics>>,
    /// The VM's model-list cache, shared by its requests.
    models: Rc<RefCell<ModelCache>>,
    exchange: Exchange,
    calls: OwnCalls,
    /// Bytes of request body Envoy holds (what a rewrite replaces).
    request_body_size: usize,
}

impl Http {
    pub fn new(
        config: Rc<Config>,
        metrics: Rc<RefCell<Metrics>>,
        models: Rc<RefCell<ModelCache>>,
    ) -> Self {
        Http {
            config,
            metrics,
            models,
            exchange: Exchange::default().with_item_slots(Box::new(super::item_store::read)),
            calls: OwnCalls::default(),
            request_body_size: 0,
        }
    }

    /// Carries out a step (and the steps refused calls lead to); the action for Envoy.
    fn apply(&mut self, step: Step) -> Action {
        let mut steps = VecDeque::from([step]);
        while let Some(step) = steps.pop_front() {
            match step {
                Step::Continue => return Action::Continue,
                Step::Pause => {}
                Step::Respond(reply) => return self.respond(&reply),
                Step::Forward(request) => {
                    self.rewrite_request(&request);
                    return Action::Continue;
                }
                Step::Dispatch(calls) => {
                    for call in calls {
                        if let Err((key, refused)) = self.calls.dispatch(call) {
                            let host = host_inputs(&self.models);
                            let next =
                                self.exchange
                                    .on_call_response(&self.config, key, refused, &host);
                            steps.push_back(next);
                        }
                    }
                }
            }
        }
        Action::Pause
    }

    /// Puts the translated body and Bedrock's headers on the held request.
    fn rewrite_request(&mut self, upstream: &UpstreamRequest) {
        host::replace_body(
            BufferType::HttpRequestBody,
            self.request_body_size,
            &upstream.body,
        );
        for name in &upstream.remove_headers {
            host::remove_header(MapType::HttpRequestHeaders, name);
        }
        for (name, value) in &upstream.set_headers {
            host::set_header(MapType::HttpRequestHeaders, name, value);
        }
        for (name, value) in &upstream.filter_state {
            host::set_filter_state(name, value);
        }
    }

    fn respond(&mut self, reply: &LocalReply) -> Action {
        host::send_reply(reply.status, &reply.headers, &reply.body);
        Action::Pause
    }
}

/// The host inputs the core reads when it needs them.
fn host_inputs(models: &RefCell<ModelCache>) -> Host<'_> {
    Host {
        now: &host::now,
        models,
        shared: &super::item_store::SharedData,
    }
}

impl Context for Http {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let Some((key, response)) = self.calls.answer(token, body_size) else {
            return;
        };
        let host = host_inputs(&self.models);
        let step = self
            .exchange
            .on_call_response(&self.config, key, response, &host);
        // The request was held (headers and body paused) while the calls ran.
        if self.apply(step) == Action::Continue {
            host::resume_request();
        }
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _count: usize, end_of_stream: bool) -> Action {
        let headers = host::headers(MapType::HttpRequestHeaders);
        #[cfg(feature = "fault-injection")]
        super::fault::crash_if_asked(&headers);
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let head = RequestHead {
            method: find(":method").unwrap_or(""),
            path: find(":path").unwrap_or(""),
            authorization: find("authorization"),
            request_id: find("x-request-id"),
            header_names: headers.iter().map(|(n, _)| n.clone()).collect(),
            api_key: find("x-api-key"),
            anthropic_version: find("anthropic-version"),
            anthropic_beta: find("anthropic-beta"),
            bedrock_headers: headers
                .iter()
                .filter(|(n, _)| is_bedrock_header(n))
                .cloned()
                .collect(),
        };
        let host = host_inputs(&self.models);
        let step = self
            .exchange
            .on_request_headers(&self.config, &head, end_of_stream, &host);
        // A pause needs allow_on_headers_stop_iteration so that Envoy still delivers the body.
        self.apply(step)
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.request_body_size = size;
        let read = || host::body(BufferType::HttpRequestBody, size);
        let host = host_inputs(&self.models);
        let step = self
            .exchange
            .on_request_body(&self.config, size, end_of_stream, &read, &host);
        self.apply(step)
    }

    fn on_http_response_headers(&mut self, _count: usize, _end_of_stream: bool) -> Action {
        let header = |name: &str| host::header(MapType::HttpResponseHeaders, name);
        let host = host_inputs(&self.models);
        let change = self
            .exchange
            .on_response_headers(&self.config, &header, &host);
        if let Some(status) = change.status {
            host::set_header(MapType::HttpResponseHeaders, ":status", &status.to_string());
        }
        for name in &change.remove_headers {
            host::remove_header(MapType::HttpResponseHeaders, name);
        }
        for (name, value) in &change.set_headers {
            host::set_header(MapType::HttpResponseHeaders, name, value);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        let body = host::body(BufferType::HttpResponseBody, size);
        let action = self
            .exchange
            .on_response_body(&self.config, &body, end_of_stream);
        // Stored before the client sees the answer, so its next request can refer to them.
        super::item_store::write(self.exchange.take_items_to_remember());
        match action {
            BodyAction::Buffer => Action::Pause,
            BodyAction::Replace(bytes) => {
                host::replace_body(BufferType::HttpResponseBody, size, &bytes);
                Action::Continue
            }
            BodyAction::Pass => Action::Continue,
        }
    }

    fn on_log(&mut self) {
        let host = host_inputs(&self.models);
        let summary = self.exchange.on_log(&host);
        for (name, value) in observability::filter_state(&summary) {
            host::set_filter_state(name, &value);
        }
        if let Ok(mut metrics) = self.metrics.try_borrow_mut() {
            metrics.record(&summary);
        }
        super::memory::report();
    }
}
