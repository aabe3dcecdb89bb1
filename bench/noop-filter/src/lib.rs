//! Floors for the benchmark: proxy-wasm HTTP filters that do no translation work.
//!
//! With any plugin configuration but the words below it does nothing: the floor under any
//! proxy-wasm filter (VM entry on every callback). With `pause`, `body`, `headers` or
//! `response` it goes through the motions a translating filter cannot avoid, each level adding
//! to the one before, on requests that are already Converse (so the answer is unchanged):
//!   pause     hold the request headers until the whole body is in
//!   body      read the body and write it back
//!   headers   rewrite `:path`, `content-length` and add an `authorization` header
//!   response  hold the response body until its end, read it and write it back

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| Box::new(Root { level: 0 }));
}}

struct Root {
    level: u8,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        self.level = match config.as_slice() {
            b"pause" => 1,
            b"body" => 2,
            b"headers" => 3,
            b"response" => 4,
            _ => 0,
        };
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor { level: self.level }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Floor {
    level: u8,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _count: usize, end_of_stream: bool) -> Action {
        if self.level >= 1 && !end_of_stream {
            Action::Pause
        } else {
            Action::Continue
        }
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.level == 0 {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        if self.level >= 2 {
            let body = self.get_http_request_body(0, size).unwrap_or_default();
            self.set_http_request_body(0, size, &body);
            if self.level >= 3 {
                let path = self.get_http_request_header(":path").unwrap_or_default();
                self.set_http_request_header(":path", Some(&path));
                self.set_http_request_header("content-length", Some(&body.len().to_string()));
                self.set_http_request_header("authorization", Some("AWS4-HMAC-SHA256 floor"));
            }
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.level < 4 {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_response_body(0, size).unwrap_or_default();
        self.set_http_response_body(0, size, &body);
        Action::Continue
    }
}
