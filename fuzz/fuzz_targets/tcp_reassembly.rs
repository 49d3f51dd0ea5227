//! cargo-fuzz target; the body is `albscope::fuzzing::tcp_reassembly` (replayed by tests/robust_fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|d: &[u8]| albscope::fuzzing::tcp_reassembly(d));
