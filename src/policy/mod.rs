//! Policies the filter enforces because only it knows the key, the model and the tokens.
//! (Retries and the fleet-wide rate limit are Envoy's own: envoy/envoy.yaml.)

pub mod fallback;
pub mod guardrail;
pub mod quota;

/// Envoy's shared data as the core sees it: one store per Envoy process, seen by every
/// worker's VM, with compare-and-swap. The shell implements it; tests use a map.
pub trait SharedStore {
    /// The value and its version.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes when `cas` still is the value's version (0: unconditionally); false when
    /// another worker wrote first.
    fn set(&self, key: &str, value: &[u8], cas: u32) -> bool;
}
