//! Host calls that report failure instead of panicking. The SDK's setters panic on any
//! non-OK status (e.g. editing headers Envoy already sent), and a panic kills the Wasm VM.

use proxy_wasm::types::{BufferType, MapType, MetricType, Status};

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_replace_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_remove_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
    ) -> Status;
    fn proxy_set_buffer_bytes(
        buffer_type: BufferType,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> Status;
    fn proxy_define_metric(
        metric_type: MetricType,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> Status;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> Status;
    fn proxy_record_metric(metric_id: u32, value: u64) -> Status;
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
    fn proxy_get_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> Status;
    fn proxy_get_buffer_bytes(
        buffer_type: BufferType,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> Status;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> Status;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> Status;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> Status;
    fn proxy_continue_stream(stream_type: proxy_wasm::types::StreamType) -> Status;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> Status;
}

fn check(status: Status, what: &str) -> bool {
    if status == Status::Ok {
        true
    } else {
        log::warn!("host call {what} failed with status {}", status as u32);
        false
    }
}

pub fn set_header(map: MapType, name: &str, value: &str) -> bool {
    // SAFETY: pointers and lengths come from live Rust slices for the duration of the call.
    let status = unsafe {
        proxy_replace_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    };
    check(status, "replace_header")
}

/// Lets a request held with `Action::Pause` go on (the SDK's version panics on failure).
pub fn resume_request() -> bool {
    // SAFETY: no pointers are passed.
    let status = unsafe { proxy_continue_stream(proxy_wasm::types::StreamType::HttpRequest) };
    check(status, "continue_stream")
}

pub fn remove_header(map: MapType, name: &str) -> bool {
    // SAFETY: as above.
    let status = unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) };
    check(status, "remove_header")
}

pub fn replace_body(buffer: BufferType, size: usize, bytes: &[u8]) -> bool {
    // SAFETY: as above.
    let status = unsafe { proxy_set_buffer_bytes(buffer, 0, size, bytes.as_ptr(), bytes.len()) };
    check(status, "set_buffer")
}

/// The proxy-wasm map encoding: count, then (name len, value len) pairs, then NUL-ended bytes.
fn serialize_headers(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    out.extend_from_slice(&len32(headers.len()));
    for (name, value) in headers {
        out.extend_from_slice(&len32(name.len()));
        out.extend_from_slice(&len32(value.len()));
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

pub fn send_reply(status: u16, headers: &[(String, String)], body: &[u8]) -> bool {
    let serialized = serialize_headers(headers);
    let details = "bedrock_access_filter";
    // SAFETY: as above.
    let status = unsafe {
        proxy_send_local_response(
            u32::from(status),
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            serialized.as_ptr(),
            serialized.len(),
            -1,
        )
    };
    check(status, "send_local_response")
}

/// Defines a counter (Envoy prefixes `wasmcustom.`); None when the host refuses.
pub fn define_counter(name: &str) -> Option<u32> {
    let mut id: u32 = 0;
    // SAFETY: as above; `id` outlives the call.
    let status =
        unsafe { proxy_define_metric(MetricType::Counter, name.as_ptr(), name.len(), &mut id) };
    check(status, "define_metric").then_some(id)
}

pub fn increment_counter(id: u32, by: u64) -> bool {
    let by = i64::try_from(by).unwrap_or(i64::MAX);
    // SAFETY: plain values only.
    let status = unsafe { proxy_increment_metric(id, by) };
    check(status, "increment_metric")
}

/// Defines a gauge (Envoy prefixes `wasmcustom.`); None when the host refuses.
pub fn define_gauge(name: &str) -> Option<u32> {
    let mut id: u32 = 0;
    // SAFETY: as above; `id` outlives the call.
    let status =
        unsafe { proxy_define_metric(MetricType::Gauge, name.as_ptr(), name.len(), &mut id) };
    check(status, "define_metric").then_some(id)
}

pub fn set_gauge(id: u32, value: u64) -> bool {
    // SAFETY: plain values only.
    let status = unsafe { proxy_record_metric(id, value) };
    check(status, "record_metric")
}

/// Sets filter state `wasm.<name>` for this stream (one-segment property path).
pub fn set_filter_state(name: &str, value: &str) -> bool {
    // SAFETY: as above.
    let status =
        unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) };
    check(status, "set_property")
}

/// Takes ownership of bytes the host allocated in this VM (through the SDK's
/// `proxy_on_memory_allocate`); empty when it returned none.
///
/// SAFETY: `data`/`size` must come from a successful host call that hands over an allocation.
unsafe fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

/// Every header of a map. The SDK's getter panics on a value that is not UTF-8 (clients may
/// send such bytes); this one converts lossily and gives an empty list on any host error.
pub fn headers(map: MapType) -> Vec<(String, String)> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: out-pointers to live locals; on Ok the host handed us `data`.
    let bytes = unsafe {
        match proxy_get_header_map_pairs(map, &mut data, &mut size) {
            Status::Ok => owned(data, size),
            status => {
                check(status, "get_header_map_pairs");
                return Vec::new();
            }
        }
    };
    crate::header_map::decode(&bytes)
}

/// One header's value (lossy UTF-8); None when absent or on a host error.
pub fn header(map: MapType, name: &str) -> Option<String> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: as above.
    let bytes = unsafe {
        match proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size) {
            Status::Ok => owned(data, size),
            Status::NotFound => return None,
            status => {
                check(status, "get_header_map_value");
                return None;
            }
        }
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Up to `max` bytes of a buffer from its start; empty when absent or on a host error.
pub fn body(buffer: BufferType, max: usize) -> Vec<u8> {
    if max == 0 {
        return Vec::new();
    }
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: as above.
    unsafe {
        match proxy_get_buffer_bytes(buffer, 0, max, &mut data, &mut size) {
            Status::Ok => owned(data, size),
            Status::NotFound => Vec::new(),
            status => {
                check(status, "get_buffer_bytes");
                Vec::new()
            }
        }
    }
}

/// A shared-data value (shared by every VM with this vm_id); None when absent or on error.
pub fn shared_data(key: &str) -> Option<Vec<u8>> {
    shared_data_versioned(key).map(|(bytes, _)| bytes)
}

/// A shared-data value with its version (for compare-and-swap).
pub fn shared_data_versioned(key: &str) -> Option<(Vec<u8>, u32)> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    let mut cas: u32 = 0;
    // SAFETY: as above.
    let bytes = unsafe {
        match proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) {
            Status::Ok => owned(data, size),
            Status::NotFound => return None,
            status => {
                check(status, "get_shared_data");
                return None;
            }
        }
    };
    Some((bytes, cas))
}

/// Sets a shared-data value unconditionally (no compare-and-swap).
pub fn set_shared_data(key: &str, value: &[u8]) -> bool {
    set_shared_data_if(key, value, 0)
}

/// Sets a shared-data value if its version still is `cas` (0: unconditionally); false when
/// another VM wrote first.
pub fn set_shared_data_if(key: &str, value: &[u8], cas: u32) -> bool {
    // SAFETY: as above.
    let status =
        unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) };
    // A lost compare-and-swap is expected under concurrency: no warning.
    status != Status::CasMismatch && check(status, "set_shared_data")
}

/// The host's clock, or the WASI clock if the host refuses.
pub fn now() -> std::time::SystemTime {
    let mut nanos: u64 = 0;
    // SAFETY: out-pointer to a live local.
    let status = unsafe { proxy_get_current_time_nanoseconds(&mut nanos) };
    if check(status, "get_current_time") {
        std::time::UNIX_EPOCH
            .checked_add(std::time::Duration::from_nanos(nanos))
            .unwrap_or_else(std::time::SystemTime::now)
    } else {
        std::time::SystemTime::now()
    }
}
