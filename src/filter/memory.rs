//! The VM's linear memory as the gauge `wasmcustom.bedrock_access_filter.vm_memory_bytes`.
//! Envoy reports no per-VM Wasm memory itself; a value that keeps rising under steady load
//! means a leak (linear memory grows but never shrinks). With several workers the gauge shows
//! the VM that finished a request last.

use super::host;
use std::cell::Cell;

const GAUGE: &str = "bedrock_access_filter.vm_memory_bytes";
const PAGE_BYTES: u64 = 65_536;

thread_local! {
    static GAUGE_ID: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Records the current size; called once per finished request.
pub fn report() {
    let id = GAUGE_ID.with(|cell| {
        cell.get().or_else(|| {
            let id = host::define_gauge(GAUGE);
            cell.set(id);
            id
        })
    });
    if let Some(id) = id {
        let pages = u64::try_from(core::arch::wasm32::memory_size(0)).unwrap_or(u64::MAX);
        host::set_gauge(id, pages.saturating_mul(PAGE_BYTES));
    }
}
