//! cargo-fuzz target; the body is `albscope::fuzzing::tls_stream` (replayed by tests/robust_fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|d: &[u8]| albscope::fuzzing::tls_stream(d));
