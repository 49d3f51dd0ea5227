//! Renders every sample's HTML report and opens it in headless Chromium: no console errors or
//! CSP violations, the DOM holds one SVG sequence diagram per failed request with the three lane
//! labels (and the named timers where the sample has them), and the screenshot is not blank.
//! Skipped, with a message, when `chromium` is not installed (`tests/html/check.sh` installs it).
//! `ALBSCOPE_HTML_SHOTS=DIR` keeps the screenshots for a person to look at.

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::analyze_capture;
use albscope::pipeline::PipelineConfig;
use albscope::report::write_html;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run_chromium(bin: &str, profile: &Path, extra: &[String], url: &str) -> (String, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Decodes an 8-bit RGB/RGBA PNG and counts distinct colours (up to 1000).
fn png_colours(path: &Path) -> usize {
    let d = std::fs::read(path).unwrap();
    assert_eq!(d.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "not a PNG");
    let (mut pos, mut idat) = (8usize, Vec::new());
    let (mut w, mut h, mut ct) = (0usize, 0usize, 0u8);
    while pos + 8 <= d.len() {
        let len = u32::from_be_bytes(d[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &d[pos + 4..pos + 8];
        let body = &d[pos + 8..pos + 8 + len];
        if kind == b"IHDR" {
            w = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
            h = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
            assert_eq!(body[8], 8, "8-bit PNG");
            ct = body[9];
        } else if kind == b"IDAT" {
            idat.extend_from_slice(body);
        }
        pos += 12 + len;
    }
    let bpp = match ct {
        2 => 3,
        6 => 4,
        other => panic!("colour type {other}"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * bpp;
    let mut prev = vec![0u8; stride];
    let mut colours = std::collections::HashSet::new();
    for y in 0..h {
        let row = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let f = row[0];
        let mut line = row[1..].to_vec();
        for x in 0..stride {
            let a = if x >= bpp { line[x - bpp] as i32 } else { 0 };
            let b = prev[x] as i32;
            let c = if x >= bpp { prev[x - bpp] as i32 } else { 0 };
            let add = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => panic!("bad filter"),
            };
            line[x] = (line[x] as i32 + add) as u8;
        }
        for px in line.chunks(bpp).step_by(7) {
            if colours.len() < 1000 {
                colours.insert(px.to_vec());
            }
        }
        prev = line;
    }
    colours.len()
}

#[test]
fn html_reports_render_in_headless_chromium() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (tests/html/check.sh installs it); the HTML \
             reports were not rendered in a browser"
        );
        return;
    };
    let work = std::env::temp_dir().join(format!("albscope-html-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let shots = std::env::var_os("ALBSCOPE_HTML_SHOTS").map(PathBuf::from);
    let mut samples: Vec<PathBuf> = ["samples", "samples/real"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    samples.sort();
    assert!(!samples.is_empty());
    // A blank page, for the screenshot comparison.
    let blank = work.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let profile = work.join("profile");
    let blank_png = work.join("blank.png");
    run_chromium(
        bin,
        &profile,
        &[
            format!("--screenshot={}", blank_png.display()),
            "--window-size=1280,2000".into(),
        ],
        &format!("file://{}", blank.display()),
    );
    assert!(png_colours(&blank_png) <= 2, "blank page renders blank");
    for p in &samples {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let stem = if p.starts_with("samples/real") {
            format!("real-{stem}")
        } else {
            stem
        };
        let mut r = CaptureReader::open(&[p]).unwrap();
        let a = analyze_capture(
            &mut r,
            &PipelineConfig::default(),
            AlbConfig::default(),
            false,
        );
        let html_path = work.join(format!("{stem}.html"));
        let mut out = Vec::new();
        write_html(&a, &mut out).unwrap();
        std::fs::write(&html_path, &out).unwrap();
        let url = format!("file://{}", html_path.display());
        let png = shots
            .as_ref()
            .map(|d| {
                std::fs::create_dir_all(d).unwrap();
                d.join(format!("{stem}.png"))
            })
            .unwrap_or_else(|| work.join(format!("{stem}.png")));
        // One run: the screenshot is written, the DOM printed, console messages logged.
        let (dom, log) = run_chromium(
            bin,
            &profile,
            &[
                format!("--screenshot={}", png.display()),
                "--dump-dom".into(),
                "--window-size=1280,2000".into(),
            ],
            &url,
        );
        for bad in [
            "CONSOLE",
            "Uncaught",
            "Refused to",
            "Content Security Policy",
        ] {
            assert!(
                !log.contains(bad),
                "{stem}: browser console reported a problem ({bad}):\n{log}"
            );
        }
        let colours = png_colours(&png);
        assert!(
            colours > 8,
            "{stem}: screenshot looks blank ({colours} colours)"
        );
        let failed = a
            .requests
            .iter()
            .filter(|f| f.category.is_failure())
            .count();
        let drawn = failed.min(albscope::report::html::MAX_DIAGRAMS);
        assert_eq!(
            dom.matches("<svg class=\"seq\"").count(),
            drawn,
            "{stem}: one diagram per failed request"
        );
        if drawn > 0 {
            for lane in ["ALB node", "target"] {
                assert!(dom.contains(lane), "{stem}: lane label {lane}");
            }
            assert!(dom.contains(">client "), "{stem}: client lane label");
        }
        let timer = match stem.as_str() {
            "target_connect_timeout" => Some("10 s connect timeout"),
            "target_idle_timeout" => Some("60.0 s idle timeout"),
            "target_tls_handshake_timeout" => Some("10 s TLS handshake timeout"),
            "keepalive_race" => Some("s keep-alive idle"),
            _ => None,
        };
        if let Some(t) = timer {
            assert!(dom.contains(t), "{stem}: gap label '{t}' missing");
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}
