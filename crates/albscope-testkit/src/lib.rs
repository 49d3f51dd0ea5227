//! Test support for albscope, apart from the library and the binary: the bodies of the
//! cargo-fuzz targets (also replayed over their corpora by `cargo test`), and hand-built inputs
//! shared by integration tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod flow_capture;
pub mod fuzzing;
pub mod protocol_events;
pub mod tls_sessions;
pub mod vantage;
pub mod vantage_score;
