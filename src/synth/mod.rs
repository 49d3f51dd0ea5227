//! Deterministic sample builder: writes VXLAN-mirrored pcap captures from a scripted description
//! of connections, modelling ALB behaviour (timers, headers, who closes what). Used by tests,
//! benchmarks and `samples/`. (Placeholder: implemented by the sample-builder work item.)
