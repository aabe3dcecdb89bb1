//! The proxy-wasm shell: the only code that talks to Envoy. It moves headers and bytes between
//! Envoy and `crate::exchange`, and holds no translation logic.

mod calls;
#[cfg(feature = "fault-injection")]
mod fault;
mod host;
mod http;
mod item_store;
mod memory;
mod metrics;
mod root;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::Root::default())
    });
}}
