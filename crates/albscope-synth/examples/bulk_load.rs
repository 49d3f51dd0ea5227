//! Writes a bulk benchmark capture: `cargo run --release -p albscope-synth --example bulk_load -- OUT BYTES [CONNS] [SEED]`.

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "load.pcap".into());
    let bytes: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000);
    let conns: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let f = std::fs::File::create(&out)?;
    let n = albscope_synth::bulk::write_http_load(f, bytes, conns, seed)?;
    println!("{n} bytes written to {out}");
    Ok(())
}
