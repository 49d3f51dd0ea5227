//! Resident memory of the bench process, read from /proc/self/status (Linux; 0 elsewhere).

/// A field of /proc/self/status in KiB (0 when unavailable).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resident memory now, in bytes.
pub fn current_bytes() -> u64 {
    status_kib("VmRSS:") * 1024
}

/// Peak resident memory since the start or the last [`reset_peak`], in bytes.
pub fn peak_bytes() -> u64 {
    status_kib("VmHWM:") * 1024
}

/// Resets the kernel's peak-RSS mark for this process (Linux: write 5 to clear_refs).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
