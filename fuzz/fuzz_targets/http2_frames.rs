//! cargo-fuzz target; the body is `albscope_testkit::fuzzing::http2_frames` (replayed by tests/robust_fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|d: &[u8]| albscope_testkit::fuzzing::http2_frames(d));
