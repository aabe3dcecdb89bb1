#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bedrock_access_filter_fuzz::request(data));
