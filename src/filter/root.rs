//! Root context: reads and validates the plugin configuration once per VM.

use super::host;
use super::http::Http;
use super::metrics::Metrics;
use crate::config::Config;
use crate::error::ApiError;
use crate::jobs::models::ModelCache;
use crate::local_reply::LocalReply;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Default)]
pub struct Root {
    config: Option<Rc<Config>>,
    metrics: Rc<RefCell<Metrics>>,
    /// The model list fetched from Bedrock, shared by this VM's requests.
    models: Rc<RefCell<ModelCache>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = super::host::body(BufferType::PluginConfiguration, usize::MAX);
        // Variables reach the VM through vm_config.environment_variables.
        let env = |key: &str| std::env::var(key).ok();
        match Config::load(&raw, &env) {
            Ok(config) => {
                log::info!(
                    "bedrock-access-filter configured: region={} endpoint={} upstream_auth={:?} client_keys={}",
                    config.region,
                    config.runtime_host,
                    config.upstream_auth,
                    config.client_keys.len()
                );
                crate::policy::quota::prepare_keys(
                    &config.keys_under_quota(),
                    &super::item_store::SharedData,
                );
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                // Returning false makes Envoy reject the configuration instead of serving wrongly.
                log::error!("bedrock-access-filter: invalid configuration: {e}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on None; Envoy rejects a failed configuration, but answer safely anyway.
        let Some(config) = self.config.clone() else {
            return Some(Box::new(Unconfigured));
        };
        let http = Http::new(config, self.metrics.clone(), self.models.clone());
        Some(Box::new(http))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Answers every request with a 503 when the VM has no valid configuration.
struct Unconfigured;

impl Context for Unconfigured {}

impl HttpContext for Unconfigured {
    fn on_http_request_headers(&mut self, _count: usize, _end_of_stream: bool) -> Action {
        let error = ApiError::new(503, "server_error", "The gateway is not configured.")
            .with_code("not_configured");
        let reply = LocalReply::error(&error);
        host::send_reply(reply.status, &reply.headers, &reply.body);
        Action::Pause
    }
}
