//! Integration tests, compiled as one test binary (faster to build and link than one binary per
//! file). Each module is one area; they run the library and the real `albscope` binary on
//! `samples/` and on captures the builder (`albscope-synth`) writes.

mod accesslog_parse;
mod accesslog_reader;
mod accesslog_seed;
mod analyze_cli;
mod analyze_hanging;
mod analyze_real;
mod analyze_samples;
mod analyze_streaming;
mod artifacts;
mod capture_reader;
mod cli_conventions;
mod cli_io;
mod decode_layers;
mod decode_proptest;
mod encrypted_front;
mod flow_cli;
mod flow_vs_tshark;
mod h2_vs_tshark;
mod health_cadence;
mod learn_once;

mod late_start;
mod logjoin_cli;
mod logjoin_samples;
mod mirror_loss;
mod multi_file_samples;
mod protocol_http;
mod protocol_robustness;
mod protocol_tls;
mod real_h2_front;
mod report_html;
mod report_markdown;
mod report_samples;
mod robust_damage;
mod robust_exit_codes;
mod robust_fuzz_corpus;
mod robust_limits;
mod scratch;
mod synth_samples;
mod threads;
mod tls_decrypt;
mod two_machines;
mod vantage_cuts;
mod wireshark_filters;
