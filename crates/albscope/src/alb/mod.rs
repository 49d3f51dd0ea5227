//! ALB layer: finds the ALB nodes, classifies connections as front end (client -> ALB) or back
//! end (ALB -> target), recognises health checks, and pairs each front-end request with the
//! back-end attempt that served it.
//!
//! [`AlbTracker`] is the [`AppSink`](crate::protocol::AppSink) (and
//! [`Clock`](crate::pipeline::Clock)) the pipeline feeds. It keeps only a time window of
//! not-yet-paired request legs (see [`AlbConfig::window`]): when the capture clock has moved past
//! a leg by more than the window, the leg is paired (or declared unpaired, with a note) and handed
//! to a [`PathSink`] as a [`RequestPath`]. Memory therefore grows with the number of requests in
//! flight inside that window, not with the length of the capture. Legs are paired in batches
//! (at clock ticks, or when over the memory budget); a batch boundary must not change the
//! result: a front-end leg left unpaired waits for the next batches while a back-end leg that
//! could pair with it may not have been through pairing, and a time-order pairing whose front
//! end a later back-end request may still claim by headers is deferred.
//!
//! Files: `types` (configuration, roles, legs, request paths, health checks, node and target
//! facts, [`PathSink`]), `coverage` (the span each input covers, [`Coverage`]), `knowledge` ([`Knowledge`]: node detection, classification, timers),
//! `leg_box` ([`LegBox`]: a leg in a box recycled per thread), `linking` (a node's front-end address linked to its back-end address, clock offsets
//! between files), `multiplex` (back-end requests of HTTP/2 front-end connections), `tracker`
//! ([`AlbTracker`] and its queue of held legs), `queue` (that queue's order: a sorted ring
//! buffer), `pairing` (matching front-end and
//! back-end legs), `size` (byte estimates for the held-bytes budget), `cadence` (health checks
//! recognised by their shape and steady interval where no request can be read), `candidates`
//! (the likely nodes named, never used, when none is recognised: TLS only, no keys),
//! `eager_tests` (eager batches decide what one batch at the end decides), `causal_tests`
//! (pairing follows the order of a proxy's steps and the answers the legs carried).

mod cadence;
mod candidates;
mod coverage;
pub use coverage::{
    CaptureWindow, Coverage, InputSet, InputSpan, Segment, JOIN_MAX, MAX_SET_INPUTS,
};
mod knowledge;
mod leg_box;
pub use leg_box::LegBox;
mod linking;
mod multiplex;
pub use linking::{ClockEstimate, FileOffset, Linking, NodeLink, OffsetSource, MIN_LINK_REQUESTS};
pub use multiplex::{front_http2, Http2Evidence};
mod next_connect;
pub use next_connect::{AfterReset, ConnectAttempt, ConnectOutcome, NextConnects};
mod pairing;
mod queue;
mod round_trip;
pub(crate) use pairing::health_check;
pub use round_trip::{MeasuredRoundTrip, RoundTrips};
mod size;
mod taught;
pub use taught::learning_per_request;
mod tracker;
mod types;

pub use cadence::{health_check_shaped, HealthCadence};
pub use candidates::{
    CandidateReading, HelloNames, NodeCandidate, TlsConnSeen, TlsPeers, MAX_CANDIDATES,
};
pub use knowledge::*;
pub use tracker::*;
pub use types::*;

/// The queue entry [`size`] counts.
use tracker::Pending;

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod eager_tests;

#[cfg(test)]
mod causal_tests;
