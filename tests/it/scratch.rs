//! Where the integration tests write files: a folder of this test process under Cargo's
//! `target/tmp` (`CARGO_TARGET_TMPDIR`), never the system's temporary folder. At first use the
//! folders of earlier runs whose process is gone are removed, so nothing piles up.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This process's scratch folder (`target/tmp/it-<pid>`), created on first use.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        sweep(&base);
        let dir = base.join(format!("it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder under target/tmp");
        dir
    })
}

/// Removes the `it-<pid>` folders of processes that no longer run (where `/proc` tells;
/// elsewhere none are removed).
fn sweep(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("it-"))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The folder `tag` in this process's scratch folder, created if missing.
pub fn dir(tag: &str) -> PathBuf {
    let dir = root().join(tag);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}
