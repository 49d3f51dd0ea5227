//! Writes the issue-11 pairing scenario: steady keep-alive traffic through one ALB node with
//! some requests the target never answers (the ALB gives up after its idle timeout).
//! `cargo run --release -p albscope-synth --example hanging_load -- OUT|- [SECONDS] [RATE]
//! [CONNS] [HANGS] [IDLE_SECONDS] [SEED]`; `-` writes to stdout (pipe it into `albscope analyze
//! -`). Defaults: 300 s at 20,000 requests/s over 3,000 connections, 5 hanging requests spread
//! over the capture, a 60 s idle timeout.

use albscope_synth::bulk::{write_hanging_load, HangingLoad};
use albscope_synth::tcp::SEC;
use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "hanging.pcap".into());
    let mut num =
        |default: u64| -> u64 { args.next().and_then(|s| s.parse().ok()).unwrap_or(default) };
    let seconds = num(300);
    let rate = num(20_000);
    let connections = num(3_000) as usize;
    let hangs = num(5);
    let idle = num(60);
    let seed = num(1);
    let load = HangingLoad {
        duration: seconds * SEC,
        rate,
        connections,
        // Spread over the capture: the first one second in, the last ones cut by its end.
        hanging_at: (0..hangs)
            .map(|k| SEC + k * seconds * SEC / hangs.max(1))
            .collect(),
        gives_up_after: Some(idle * SEC),
        seed,
    };
    let n = if out == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let n = write_hanging_load(&mut lock, &load)?;
        lock.flush()?;
        n
    } else {
        write_hanging_load(std::fs::File::create(&out)?, &load)?
    };
    eprintln!("{n} bytes written to {out}");
    Ok(())
}
