//! `albscope extract`: writes the packets of one request (`--request ID -w FILE`) or of every
//! failed request (`--failed -d DIR`, one `<id>-<category>.pcap` each) to small captures that
//! re-analyse to the same finding. Request ids are those of `albscope analyze`.

use super::analyze::{run_analysis, AnalysisOptions};
use super::{CliError, EXIT_OK, EXIT_PARTIAL};
use albscope::capture::CaptureReader;
use albscope::report::slice::{alb_addresses, safe_name, write_slices, SliceSpec};
use clap::{ArgGroup, Args};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope extract`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["request", "failed"])))]
pub struct ExtractArgs {
    /// Capture files (pcap, pcapng, optionally .gz). Several are merged.
    #[arg(required = true, value_name = "CAPTURE")]
    pub inputs: Vec<PathBuf>,
    /// The request to extract, by its id in `albscope analyze` output (e.g. f12.0).
    #[arg(long, value_name = "ID", requires = "write")]
    pub request: Option<String>,
    /// Output file for `--request`.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Extract every failed request, one file each, into `--dir`.
    #[arg(long, requires = "dir")]
    pub failed: bool,
    /// Output directory for `--failed` (created when missing).
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// ALB and capture options (the same as for `analyze`, so ids match).
    #[command(flatten)]
    pub options: AnalysisOptions,
}

/// Runs `albscope extract`.
pub fn run(args: ExtractArgs) -> Result<ExitCode, CliError> {
    let mut analysis = run_analysis(&args.inputs, &args.options, false)?;
    let mut specs = Vec::new();
    let mut hints = Vec::new();
    if let Some(id) = &args.request {
        let key = id.parse::<albscope::diagnose::RequestId>().ok();
        let found =
            |a: &albscope::diagnose::Analysis| key.is_some_and(|k| a.connections.contains_key(&k));
        if !found(&analysis) {
            // Not a failed request: look again with ok requests kept.
            analysis = run_analysis(&args.inputs, &args.options, true)?;
        }
        let Some(conns) = key.and_then(|k| analysis.connections.get(&k)) else {
            let known: Vec<String> = analysis
                .requests
                .iter()
                .take(10)
                .map(|f| f.id.to_string())
                .collect();
            let past_limit = if analysis.requests_not_kept > 0 {
                format!(
                    "; {} requests were past --max-requests {}: raise it to reach them",
                    analysis.requests_not_kept, args.options.limits.max_requests
                )
            } else {
                String::new()
            };
            return Err(CliError::Usage(format!(
                "no request with id '{id}' in the capture (ids look like: {}){past_limit}",
                if known.is_empty() {
                    "none found".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let path = args
            .write
            .clone()
            .ok_or_else(|| CliError::Usage("--request needs -w FILE".into()))?;
        hints.push(alb_addresses(conns));
        specs.push(SliceSpec::of_request(path, conns));
    } else {
        let dir = args
            .dir
            .clone()
            .ok_or_else(|| CliError::Usage("--failed needs -d DIR".into()))?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", dir.display())))?;
        for f in analysis.requests.iter().filter(|f| f.category.is_failure()) {
            let id = f.id.to_string();
            if let Some(conns) = analysis.connections.get(&f.id) {
                let name = format!("{}-{}.pcap", safe_name(&id), f.category.name());
                hints.push(alb_addresses(conns));
                specs.push(SliceSpec::of_request(dir.join(name), conns));
            }
        }
        if specs.is_empty() {
            eprintln!("albscope: no failed requests in the capture; nothing written");
        }
        if analysis.requests_not_kept > 0 {
            eprintln!(
                "albscope: only the first {} failed requests are extracted; {} more were past \
                 --max-requests",
                args.options.limits.max_requests, analysis.requests_not_kept
            );
        }
    }
    let mut reader =
        CaptureReader::open(&args.inputs).map_err(|e| CliError::Unreadable(e.to_string()))?;
    let results = write_slices(&mut reader, &args.options.pipeline_config()?.decode, &specs)?;
    for (r, ips) in results.iter().zip(&hints) {
        let alb: Vec<String> = ips.iter().map(|ip| format!("--alb-ip {ip}")).collect();
        println!(
            "{}: {} packets ({}){}; ALB side: {}",
            r.path.display(),
            r.packets,
            r.format,
            if r.capped {
                " - packet cap reached, slice incomplete"
            } else {
                ""
            },
            alb.join(" ")
        );
    }
    if !results.is_empty() {
        println!(
            "(a slice holds only its request's connections: when re-analysing one loses what \
             identified the ALB node, e.g. from a target's ENI, pass the --alb-ip shown)"
        );
    }
    for p in &analysis.stats.problems {
        eprintln!("albscope: damaged input: {p}");
    }
    Ok(ExitCode::from(if analysis.stats.problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }))
}
