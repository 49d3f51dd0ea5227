//! albscope: explains AWS Application Load Balancer 502/504 errors from mirrored packet captures.
//!
//! Data flows one way through the layers, each a module with its own error type and no knowledge
//! of the ones after it: [`capture`] -> [`decode`] -> [`flow`] -> [`protocol`] -> [`alb`] ->
//! [`diagnose`] -> [`report`]. [`pipeline`] drives the first four; [`accesslog`] reads ALB
//! access logs. [`taxonomy`], at the bottom beside [`capture`], names the failure categories
//! and their fixes for all of them. The sample builder (`albscope-synth`) and test support
//! (`albscope-testkit`) are crates of their own, used by neither this library nor the binary.
//! See ARCHITECTURE.md.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accesslog;
pub mod alb;
pub mod capture;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod pipeline;
pub mod protocol;
pub mod report;
pub mod taxonomy;
