//! Envoy's shared data: one store per Envoy process and vm_id, seen by every worker's VM, for
//! remembered Responses output items and quota counters. The core decides keys and values;
//! this only moves bytes.

use super::host;

/// Reads one slot.
pub fn read(key: &str) -> Option<Vec<u8>> {
    host::shared_data(key)
}

/// Writes the slots of a completed answer (overwriting what they held).
pub fn write(slots: Vec<(String, Vec<u8>)>) {
    for (key, value) in slots {
        host::set_shared_data(&key, &value);
    }
}

/// Envoy's shared data for the core's policies (quota counters).
pub struct SharedData;

impl crate::policy::SharedStore for SharedData {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        host::shared_data_versioned(key)
    }
    fn set(&self, key: &str, value: &[u8], cas: u32) -> bool {
        host::set_shared_data_if(key, value, cas)
    }
}
