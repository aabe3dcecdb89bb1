//! HTTP context: hands each callback's headers and bytes to the exchange and applies its answer.

use super::calls::{Finished, OwnCalls};
use super::host;
use super::metrics::Metrics;
use crate::config::Config;
use crate::exchange::{
    BodyAction, Exchange, HeadersAction, LocalReply, RequestHead, UpstreamRequest,
};
use crate::observability;
use crate::translate::models::ModelCache;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};
use std::cell::RefCell;
use std::rc::Rc;

pub struct Http {
    config: Rc<Config>,
    metrics: Rc<RefCell<Metrics>>,
    exchange: Exchange,
    replied: bool,
    /// The filter's own upstream calls (model list, embeddings, image URLs).
    calls: OwnCalls,
    /// Size of the held request body, replaced once fetched images are in.
    held_body_size: usize,
}

impl Http {
    pub fn new(config: Rc<Config>, metrics: Rc<RefCell<Metrics>>) -> Self {
        Http {
            config,
            metrics,
            exchange: Exchange::default().with_item_slots(Box::new(super::item_store::read)),
            replied: false,
            calls: OwnCalls::default(),
            held_body_size: 0,
        }
    }

    /// Shares the VM's model-list cache with this request.
    pub fn with_model_cache(mut self, models: Rc<RefCell<ModelCache>>) -> Self {
        self.calls = OwnCalls::new(models);
        self
    }

    /// The filter answers itself from calls it makes; the request is never routed.
    fn start_calls(&mut self, body: &[u8]) -> Action {
        let finished = self.calls.start(&mut self.exchange, &self.config, body);
        self.finish_calls(finished)
    }

    /// Applies how the calls ended; `Pause` while they run.
    fn finish_calls(&mut self, finished: Option<Finished>) -> Action {
        match finished {
            Some(Finished::Reply(reply)) => self.reply(&reply),
            Some(Finished::Forward(request)) => {
                self.rewrite_request(&request);
                Action::Continue
            }
            None => Action::Pause,
        }
    }

    /// Puts the translated body and Bedrock's headers on the held request.
    fn rewrite_request(&mut self, upstream: &UpstreamRequest) {
        host::replace_body(
            BufferType::HttpRequestBody,
            self.held_body_size,
            &upstream.body,
        );
        for name in &upstream.remove_headers {
            host::remove_header(MapType::HttpRequestHeaders, name);
        }
        for (name, value) in &upstream.set_headers {
            host::set_header(MapType::HttpRequestHeaders, name, value);
        }
    }

    fn reply(&mut self, reply: &LocalReply) -> Action {
        self.replied = true;
        host::send_reply(reply.status, &reply.headers, &reply.body);
        Action::Pause
    }
}

impl Context for Http {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if self.replied {
            return;
        }
        let answer = self.calls.on_response(
            &mut self.exchange,
            &self.config,
            token,
            num_headers,
            body_size,
        );
        // The request was held (headers and body paused) while images were fetched.
        if self.finish_calls(answer) == Action::Continue {
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
        };
        match self
            .exchange
            .on_request_headers(&self.config, &head, end_of_stream)
        {
            HeadersAction::Reply(reply) => self.reply(&reply),
            // Needs allow_on_headers_stop_iteration so that Envoy still delivers the body.
            HeadersAction::AwaitBody => Action::Pause,
            HeadersAction::StartCalls => self.start_calls(&[]),
        }
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.replied || !self.exchange.wants_request_body() {
            return Action::Continue;
        }
        if size > self.config.max_request_bytes {
            let reply = self.exchange.reject_oversized(&self.config);
            return self.reply(&reply);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = host::body(BufferType::HttpRequestBody, size);
        if self.exchange.answers_with_calls() {
            return self.start_calls(&body);
        }
        self.held_body_size = size;
        if let Some(step) = self.exchange.start_image_fetch(&self.config, &body) {
            let finished = self.calls.run(&mut self.exchange, &self.config, step);
            return self.finish_calls(finished);
        }
        let now = host::now();
        match self.exchange.on_request_body(&self.config, &body, now) {
            Ok(upstream) => {
                self.rewrite_request(&upstream);
                Action::Continue
            }
            Err(reply) => self.reply(&reply),
        }
    }

    fn on_http_response_headers(&mut self, _count: usize, _end_of_stream: bool) -> Action {
        if self.replied {
            return Action::Continue;
        }
        let status = host::header(MapType::HttpResponseHeaders, ":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(502);
        let error_type = host::header(MapType::HttpResponseHeaders, "x-amzn-errortype");
        let change = self
            .exchange
            .on_response_headers(status, error_type.as_deref());
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
        if self.replied {
            return Action::Continue;
        }
        let body = if size > 0 {
            host::body(BufferType::HttpResponseBody, size)
        } else {
            Vec::new()
        };
        let action = self.exchange.on_response_body(&body, end_of_stream);
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
        let summary = self.exchange.summary();
        for (name, value) in observability::filter_state(&summary) {
            host::set_filter_state(name, &value);
        }
        if let Ok(mut metrics) = self.metrics.try_borrow_mut() {
            metrics.record(&summary);
        }
        super::memory::report();
    }
}
