//! `albscope extract`: writes the packets of one request (`--request ID -w FILE`) or of every
//! failed request (`--failed -d DIR`, one `<id>-<category>.pcap` each) to small captures that
//! re-analyse to the same finding. Request ids are those of `albscope analyze`. With
//! `--format pcapng` the slices are pcapng whose packet comments carry albscope's evidence.

use super::analyze::{run_analysis, AnalysisOptions};
use super::io::{self, Inputs, OutputFile};
use super::{CliError, EXIT_OK, EXIT_PARTIAL};
use albscope::capture::CaptureReader;
use albscope::report::slice::{alb_addresses, safe_name, write_slices, SliceSpec};
use albscope::report::wireshark::packet_comments;
use clap::{ArgGroup, Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `albscope extract`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["request", "failed"])))]
pub struct ExtractArgs {
    /// The request to extract, by its id in `albscope analyze` output (e.g. f12.0).
    #[arg(long, value_name = "ID", requires = "write")]
    pub request: Option<String>,
    /// Output file for `--request` (`-`: stdout, e.g. piped into tshark -r -). Written beside
    /// FILE and renamed into place when complete; it may not be an input.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Extract every failed request, one file each, into `--dir`.
    #[arg(long, requires = "dir")]
    pub failed: bool,
    /// Output directory for `--failed` (created when missing); each file is written under a
    /// temporary name and renamed when complete, never over an input.
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Output format: `pcap` (classic pcap, or pcapng when the packets have several link
    /// types) or `pcapng` (always pcapng, with albscope's evidence as packet comments).
    #[arg(long = "format", value_enum, default_value_t = SliceFormat::Pcap)]
    pub format: SliceFormat,
    /// ALB and capture options (the same as for `analyze`, so ids match).
    #[command(flatten)]
    pub options: AnalysisOptions,
}

/// The file format of `extract`'s slices.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum SliceFormat {
    /// Classic pcap (pcapng when the packets have several link types).
    Pcap,
    /// pcapng with packet comments carrying albscope's evidence.
    Pcapng,
}

/// The slice of request `id` (whose connections are `conns`) in `format`.
fn slice_spec(
    analysis: &albscope::diagnose::Analysis,
    id: albscope::diagnose::RequestId,
    path: PathBuf,
    conns: &albscope::diagnose::metrics::RequestConns,
    format: SliceFormat,
) -> SliceSpec {
    let spec = SliceSpec::of_request(path, conns);
    if format == SliceFormat::Pcap {
        return spec;
    }
    let comments = analysis
        .requests
        .iter()
        .find(|f| f.id == id)
        .map(|f| packet_comments(analysis, f))
        .unwrap_or_default();
    spec.as_pcapng(comments)
}

/// Runs `albscope extract`.
pub fn run(args: ExtractArgs) -> Result<ExitCode, CliError> {
    args.options.alb_config()?;
    args.options.pipeline_config()?;
    args.options.input.warn_key_log()?;
    let paths = args.options.input.paths();
    // `-w` is created (and checked against the inputs) before any work.
    let to_stdout = args.write.as_ref().is_some_and(|w| w.as_os_str() == "-");
    let mut single = match &args.write {
        Some(w) if args.request.is_some() && !to_stdout => {
            Some(OutputFile::create(w, &paths, "-w")?)
        }
        Some(_) if args.request.is_some() => Some(stdout_spool()?),
        _ => None,
    };
    if let Some(dir) = &args.dir {
        if args.failed {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", dir.display())))?;
            // Fails early when the folder cannot be written.
            drop(OutputFile::create(&dir.join("probe"), &paths, "-d")?);
        }
    }
    // Captures are read two or three times: stdin and FIFOs are spooled.
    let inputs = Inputs::prepare(&paths, true)?;
    let mut analysis = run_analysis(&inputs, &args.options, false)?;
    let mut specs = Vec::new();
    let mut hints = Vec::new();
    let mut outputs: Vec<(PathBuf, OutputFile)> = Vec::new();
    if let Some(id) = &args.request {
        let key = id.parse::<albscope::diagnose::RequestId>().ok();
        let found =
            |a: &albscope::diagnose::Analysis| key.is_some_and(|k| a.connections.contains_key(&k));
        if !found(&analysis) {
            // Not a failed request: look again with ok requests kept.
            analysis = run_analysis(&inputs, &args.options, true)?;
        }
        let Some((key, conns)) = key.and_then(|k| analysis.connections.get(&k).map(|c| (k, c)))
        else {
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
        let file = single
            .take()
            .ok_or_else(|| CliError::Usage("--request needs -w FILE".into()))?;
        hints.push(alb_addresses(conns));
        specs.push(slice_spec(
            &analysis,
            key,
            file.temp_path().to_path_buf(),
            conns,
            args.format,
        ));
        outputs.push((path, file));
    } else {
        let dir = args
            .dir
            .clone()
            .ok_or_else(|| CliError::Usage("--failed needs -d DIR".into()))?;
        for f in analysis
            .requests
            .iter()
            .filter(|f| f.category.is_failure() && !f.outcome_not_visible)
        {
            let id = f.id.to_string();
            if let Some(conns) = analysis.connections.get(&f.id) {
                let ext = match args.format {
                    SliceFormat::Pcap => "pcap",
                    SliceFormat::Pcapng => "pcapng",
                };
                let name = format!("{}-{}.{ext}", safe_name(&id), f.category.name());
                let path = dir.join(name);
                let file = OutputFile::create(&path, &paths, "-d")?;
                hints.push(alb_addresses(conns));
                specs.push(slice_spec(
                    &analysis,
                    f.id,
                    file.temp_path().to_path_buf(),
                    conns,
                    args.format,
                ));
                outputs.push((path, file));
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
    let mut reader = CaptureReader::open_named(&inputs.named)
        .map_err(|e| CliError::Unreadable(e.to_string()))?;
    let results = write_slices(&mut reader, &args.options.pipeline_config()?.decode, &specs)?;
    let mut lines = Vec::new();
    for ((r, ips), (path, file)) in results.iter().zip(&hints).zip(outputs) {
        if to_stdout {
            let mut spooled = std::fs::File::open(file.temp_path())
                .map_err(|e| CliError::Usage(format!("cannot read back the slice: {e}")))?;
            let mut out = io::stdout();
            std::io::copy(&mut spooled, &mut out)?;
            std::io::Write::flush(&mut out)?;
        } else {
            file.commit()?;
        }
        let alb: Vec<String> = ips.iter().map(|ip| format!("--alb-ip {ip}")).collect();
        lines.push(format!(
            "{}: {} packets ({}){}; ALB side: {}",
            path.display(),
            r.packets,
            r.format,
            if r.capped {
                " - packet cap reached, slice incomplete"
            } else {
                ""
            },
            alb.join(" ")
        ));
    }
    if !results.is_empty() {
        lines.push(
            "(a slice holds only its request's connections: when re-analysing one loses what \
             identified the ALB node, e.g. from a target's ENI, pass the --alb-ip shown)"
                .to_string(),
        );
    }
    for line in lines {
        // With `-w -` the slice is on stdout: what was written goes to stderr.
        if to_stdout {
            eprintln!("albscope: {line}");
        } else {
            io::say(line)?;
        }
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

/// A temporary file for a slice going to stdout (written whole, then copied out).
fn stdout_spool() -> Result<OutputFile, CliError> {
    OutputFile::spool("the slice for -w - (a temporary file)")
}
