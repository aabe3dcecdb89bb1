//! Test builds only (`--features fault-injection`, never in the released .wasm): the request
//! header `x-bedrock-filter-fault: panic` makes the filter panic, so the end-to-end tests can
//! prove that Envoy rebuilds a crashed VM (failure_policy FAIL_RELOAD) and serves on.

#[allow(clippy::panic)]
pub fn crash_if_asked(headers: &[(String, String)]) {
    if headers
        .iter()
        .any(|(n, v)| n == "x-bedrock-filter-fault" && v == "panic")
    {
        panic!("fault injection: the test asked this VM to crash");
    }
}
