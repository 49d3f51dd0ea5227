//! Throughput benchmark (placeholder: implemented by the benchmark work item).
fn main() {}
