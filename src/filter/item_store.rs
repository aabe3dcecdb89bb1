//! Remembered Responses output items in Envoy's shared data: one store per Envoy process and
//! vm_id, seen by every worker's VM. The core decides keys and values; this only moves bytes.

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
