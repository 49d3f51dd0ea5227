//! The HTML report. Without a browser, for every sample: every internal link (`href="#x"`) has
//! its `id`, ids are unique, the time strip, the legend, the failure index and one permalinked
//! section per failure are there, and nothing is fetched. In headless Chromium (one start for
//! each 60 pages), every page (every sample, the TLS samples with their key logs, the
//! multi-file samples) in an iframe, with
//! script and without: no console message or CSP violation from any page, every failure listed,
//! the verdict there, the filter bar shown only with script. In headless Chromium, for a subset of
//! samples, in depth: no console errors or CSP violations with script on (the filter bar appears, so the
//! CSP's script hash matches), every failure still listed with script off, the verdict block
//! first when the page has one, and the screenshot is not blank. Skipped, with a message, when
//! `chromium` is not installed (`tests/html/check.sh` installs it). `ALBSCOPE_HTML_SHOTS=DIR`
//! keeps the screenshots for a person to look at; `tests/html/screenshots.sh` regenerates the
//! ones committed under `samples/screenshots/`.

use albscope::alb::AlbConfig;
use albscope::capture::CaptureReader;
use albscope::diagnose::{analyze_capture, Analysis};
use albscope::pipeline::PipelineConfig;
use albscope::report::html::MAX_DIAGRAMS;
use albscope::report::write_html;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The samples rendered in the browser (two browser starts each, so a subset keeps the test
/// fast): the two with committed screenshots, a page without failures, a long timer, each
/// one-leg vantage. Every sample gets the static checks.
const BROWSER_SUBSET: [&str; 6] = [
    "mixed",
    "keepalive_race",
    "healthy",
    "target_connect_timeout",
    "backend-vantage",
    "frontend-vantage",
];

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
        .arg("60")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
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

/// Every sample with its display name (`real-…` for the recorded ones).
fn samples() -> Vec<(String, PathBuf)> {
    let mut samples: Vec<PathBuf> = ["samples", "samples/real"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    samples.sort();
    assert!(!samples.is_empty());
    samples
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let name = if p.starts_with("samples/real") {
                format!("real-{stem}")
            } else {
                stem
            };
            (name, p)
        })
        .collect()
}

fn render(p: &Path) -> (Analysis, String) {
    let mut r = CaptureReader::open(&[p]).unwrap();
    let a = analyze_capture(
        &mut r,
        &PipelineConfig::default(),
        AlbConfig::default(),
        false,
    );
    let mut out = Vec::new();
    write_html(&a, &mut out).unwrap();
    (a, String::from_utf8(out).expect("utf-8"))
}

/// The values of `attr="…"` in `html`.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!(" {attr}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = html.get(i + key.len()..)?;
            rest.find('"').and_then(|e| rest.get(..e))
        })
        .collect()
}

fn failed_count(a: &Analysis) -> usize {
    a.requests
        .iter()
        .filter(|f| f.category.is_failure())
        .count()
}

/// What every page must hold, checked on the HTML text.
fn check_static(name: &str, a: &Analysis, html: &str) {
    let ids = attr_values(html, "id");
    let mut seen = HashSet::new();
    for id in &ids {
        assert!(seen.insert(*id), "{name}: id {id} used twice");
    }
    for href in attr_values(html, "href") {
        let Some(target) = href.strip_prefix('#') else {
            panic!("{name}: link to outside the page: {href}");
        };
        assert!(
            seen.contains(target),
            "{name}: href=\"#{target}\" has no id"
        );
    }
    for bad in ["src=\"http", "<link", "@import", "url(http"] {
        assert!(!html.contains(bad), "{name}: fetches something ({bad})");
    }
    if a.summary.requests > 0 {
        assert!(html.contains("<svg class=\"strip\""), "{name}: time strip");
    }
    let failed = failed_count(a);
    let sections = html.matches("<section class=\"req\" id=\"req-").count();
    assert_eq!(
        sections,
        failed.min(MAX_DIAGRAMS),
        "{name}: one section per failure"
    );
    if failed > 0 {
        for id in ["legend", "filters", "failures"] {
            assert!(seen.contains(id), "{name}: #{id} missing");
        }
        assert!(
            html.contains("as Wireshark shows it"),
            "{name}: packet numbers explained"
        );
        // Each failure's permalink derives from its request id.
        let f = a.requests.iter().find(|f| f.category.is_failure()).unwrap();
        let id = format!("req-{}", f.id.to_string().replace('.', "-"));
        assert!(seen.contains(id.as_str()), "{name}: permalink {id}");
    }
}

#[test]
fn html_report_links_resolve_in_every_sample() {
    for (name, p) in samples() {
        let (a, html) = render(&p);
        check_static(&name, &a, &html);
    }
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
    let work = crate::scratch::dir("html");
    std::fs::create_dir_all(&work).unwrap();
    let shots = std::env::var_os("ALBSCOPE_HTML_SHOTS").map(PathBuf::from);
    let chosen: Vec<(String, PathBuf)> = samples()
        .into_iter()
        .filter(|(n, _)| BROWSER_SUBSET.contains(&n.as_str()))
        .collect();
    assert_eq!(
        chosen.len(),
        BROWSER_SUBSET.len(),
        "browser subset: {chosen:?}"
    );
    // Two workers: each page is one browser start with script on, one with script off.
    let jobs = std::sync::Mutex::new(chosen.into_iter());
    std::thread::scope(|s| {
        for worker in 0..2 {
            let (jobs, work, shots) = (&jobs, &work, &shots);
            s.spawn(move || {
                let profile = work.join(format!("profile-{worker}"));
                loop {
                    let Some((name, p)) = jobs.lock().unwrap().next() else {
                        break;
                    };
                    browse(bin, &profile, work, shots.as_deref(), &name, &p);
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&work);
}

/// Renders one sample's page with script on and off and checks both.
fn browse(bin: &str, profile: &Path, work: &Path, shots: Option<&Path>, name: &str, p: &Path) {
    let (a, html) = render(p);
    let html_path = work.join(format!("{name}.html"));
    std::fs::write(&html_path, &html).unwrap();
    let url = format!("file://{}", html_path.display());
    let png = shots
        .map(|d| {
            std::fs::create_dir_all(d).unwrap();
            d.join(format!("{name}.png"))
        })
        .unwrap_or_else(|| work.join(format!("{name}.png")));
    // Script on: the screenshot is written, the DOM printed, console messages logged.
    let (dom, log) = run_chromium(
        bin,
        profile,
        &[
            format!("--screenshot={}", png.display()),
            "--dump-dom".into(),
            "--window-size=1280,1600".into(),
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
            "{name}: browser console reported a problem ({bad}):\n{log}"
        );
    }
    let colours = png_colours(&png);
    assert!(
        colours > 8,
        "{name}: screenshot looks blank ({colours} colours)"
    );
    let failed = failed_count(&a);
    let drawn = failed.min(MAX_DIAGRAMS);
    assert_eq!(
        dom.matches("<svg class=\"seq\"").count(),
        drawn,
        "{name}: one diagram per failed request"
    );
    if a.summary.requests > 0 {
        assert!(dom.contains("<svg class=\"strip\""), "{name}: time strip");
    }
    if drawn > 0 {
        for lane in ["ALB node", "target"] {
            assert!(dom.contains(lane), "{name}: lane label {lane}");
        }
        assert!(dom.contains(">client "), "{name}: client lane label");
        assert!(dom.contains("id=\"legend\""), "{name}: legend");
        // The script ran (the CSP allowed it by its hash) and showed the filter bar.
        assert!(
            dom.contains("<form id=\"filters\" class=\"filters\">"),
            "{name}: the filter script did not run"
        );
    }
    // The filter: a query selects one category; the other failures are hidden.
    if name == "mixed" {
        let (dom_f, log_f) = run_chromium(
            bin,
            profile,
            &["--dump-dom".into()],
            &format!("{url}?cat=keepalive_race"),
        );
        assert!(
            !log_f.contains("CONSOLE"),
            "{name}: console when filtering:\n{log_f}"
        );
        // The opening tags of the failure sections: (category, hidden).
        let sections: Vec<(bool, bool)> = dom_f
            .match_indices("<section class=\"req\"")
            .filter_map(|(i, _)| dom_f[i..].find('>').map(|e| &dom_f[i..i + e]))
            .map(|tag| {
                (
                    tag.contains("data-cat=\"keepalive_race\""),
                    tag.contains(" hidden"),
                )
            })
            .collect();
        assert_eq!(sections.len(), drawn, "{name}: sections");
        assert!(
            sections.iter().any(|(race, _)| *race) && sections.iter().any(|(race, _)| !race),
            "{name}: the sample mixes categories"
        );
        for (race, hidden) in &sections {
            assert_eq!(
                *race, !hidden,
                "{name}: ?cat=keepalive_race shows exactly the races"
            );
        }
        let races = sections.iter().filter(|(r, _)| *r).count();
        assert!(
            dom_f.contains(&format!(
                "failures shown: <span id=\"shown\">{races}</span>"
            )),
            "{name}: the filter counts what it shows"
        );
    }
    // The verdict block, when the page has one, comes before the time strip.
    if let Some(v) = dom
        .find("class=\"verdict\"")
        .or_else(|| dom.find("id=\"verdict\""))
    {
        let strip = dom.find("<svg class=\"strip\"").unwrap_or(usize::MAX);
        assert!(v < strip, "{name}: the verdict comes first");
    }
    let timer = match name {
        "target_connect_timeout" => Some("10 s connect timeout"),
        "keepalive_race" => Some("target keep-alive 5 s &lt; ALB idle 60 s"),
        _ => None,
    };
    if let Some(t) = timer {
        assert!(dom.contains(t), "{name}: label '{t}' missing");
    }
    if name == "keepalive_race" {
        for t in ["crossed in flight", "previous response ended", "packet #50"] {
            assert!(dom.contains(t), "{name}: '{t}' missing");
        }
    }
    if drawn == 0 {
        return;
    }
    // Script off: every failure still listed and drawn, the filter bar stays hidden. (Chromium's
    // --blink-settings=scriptEnabled=false also stops --dump-dom, so a copy of the page whose
    // CSP allows no script stands for a browser with script disabled.)
    let csp = "script-src 'sha256-";
    let at = html.find(csp).expect("CSP names the script hash");
    let end = html[at + csp.len()..].find('\'').unwrap() + at + csp.len() + 1;
    let off = format!("{}script-src 'none'{}", &html[..at], &html[end..]);
    let off_path = work.join(format!("{name}-noscript.html"));
    std::fs::write(&off_path, off).unwrap();
    let (dom_off, log_off) = run_chromium(
        bin,
        profile,
        &["--dump-dom".into()],
        &format!("file://{}", off_path.display()),
    );
    let log_off: String = log_off
        .lines()
        .filter(|l| {
            !l.contains(
                "violates the following Content Security Policy directive 'script-src 'none''",
            )
        })
        .collect();
    assert!(
        !log_off.contains("CONSOLE"),
        "{name}: console without script:\n{log_off}"
    );
    assert_eq!(
        dom_off.matches("<section class=\"req\"").count(),
        drawn,
        "{name}: failures listed without script"
    );
    assert!(
        dom_off.contains("<form id=\"filters\" class=\"filters\" hidden"),
        "{name}: the filter bar is hidden without script"
    );
}

/// One page for the one-browser test: its name and the `albscope analyze` arguments.
fn every_page() -> Vec<(String, Vec<String>)> {
    let mut pages: Vec<(String, Vec<String>)> = samples()
        .into_iter()
        .map(|(name, p)| (name, vec![p.display().to_string()]))
        .collect();
    // TLS samples, with their key logs (the pcapng carries its own).
    let mut tls: Vec<PathBuf> = std::fs::read_dir("samples/tls")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    tls.sort();
    for p in tls {
        if !p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            continue;
        }
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let mut args = vec![p.display().to_string()];
        let keys = p.with_extension("keys");
        if keys.exists() {
            args.extend(["--tls-keylog".into(), keys.display().to_string()]);
        }
        pages.push((format!("tls-{stem}"), args));
    }
    // Multi-file samples: every capture of a directory together.
    for dir in ["samples/split-addrs", "samples/real/two_interfaces"] {
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        if files.len() > 1 {
            let name = dir.trim_start_matches("samples/").replace('/', "-");
            pages.push((name, files));
        }
    }
    pages
}

/// The page's HTML as the CLI writes it.
fn render_cli(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_albscope"))
        .arg("analyze")
        .args(args)
        .args(["--format", "html"])
        .output()
        .expect("run albscope");
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "albscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The page with a CSP that allows no script: a browser with script disabled.
fn without_script(html: &str) -> String {
    let csp = "script-src 'sha256-";
    let at = html.find(csp).expect("CSP names the script hash");
    let end = html[at + csp.len()..].find('\'').unwrap() + at + csp.len() + 1;
    format!("{}script-src 'none'{}", &html[..at], &html[end..])
}

/// The top page: every report in an iframe; once all have loaded, its script reads each
/// frame's DOM (file pages may read each other with `--allow-file-access-from-files`) and
/// writes one line per frame for `--dump-dom`.
const TOP_SCRIPT: &str = r#"<script>
window.addEventListener('load', () => {
  const out = document.getElementById('out');
  for (const f of document.querySelectorAll('iframe')) {
    let r;
    try {
      const d = f.contentDocument;
      const fm = d.getElementById('filters');
      r = [d.querySelectorAll('section.req').length,
           fm ? (fm.hidden ? 'hidden' : 'shown') : 'none',
           d.querySelector('.verdict, #verdict') ? 'verdict' : 'no-verdict'].join(' ');
    } catch (e) { r = 'error ' + e; }
    const p = document.createElement('p');
    p.className = 'res';
    p.textContent = f.getAttribute('src') + ' ' + r + ';';
    out.appendChild(p);
  }
});
</script>"#;

/// Sample pages loaded by one browser start in [`html_reports_of_every_sample_load_in_one_browser`]
/// (each page twice: with and without script).
const PAGES_PER_BROWSER: usize = 60;

#[test]
fn html_reports_of_every_sample_load_in_one_browser() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (tests/html/check.sh installs it); the HTML \
             reports were not rendered in a browser"
        );
        return;
    };
    let work = crate::scratch::dir("html-all");
    std::fs::create_dir_all(&work).unwrap();
    // Render every page (two at a time): (name, failure sections in the page).
    let pages = every_page();
    let jobs = std::sync::Mutex::new(pages.iter());
    let rendered = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (jobs, rendered, work) = (&jobs, &rendered, &work);
            s.spawn(move || loop {
                let Some((name, args)) = jobs.lock().unwrap().next() else {
                    break;
                };
                let html = render_cli(args);
                let sections = html.matches("<section class=\"req\"").count();
                std::fs::write(work.join(format!("{name}.html")), &html).unwrap();
                std::fs::write(
                    work.join(format!("{name}-noscript.html")),
                    without_script(&html),
                )
                .unwrap();
                rendered.lock().unwrap().push((name.clone(), sections));
            });
        }
    });
    let mut rendered = rendered.into_inner().unwrap();
    rendered.sort();
    // One browser start per group of pages: each start stays well inside run_chromium's 60 s
    // however many samples there are.
    let (mut dom, mut log) = (String::new(), String::new());
    for (group, pages) in rendered.chunks(PAGES_PER_BROWSER).enumerate() {
        let mut top = String::from("<!doctype html><html><body><div id=\"out\"></div>\n");
        for (name, _) in pages {
            top.push_str(&format!(
                "<iframe src=\"{name}.html\"></iframe><iframe src=\"{name}-noscript.html\"></iframe>\n"
            ));
        }
        top.push_str(TOP_SCRIPT);
        top.push_str("</body></html>\n");
        let top_path = work.join(format!("top{group}.html"));
        std::fs::write(&top_path, top).unwrap();
        let (group_dom, group_log) = run_chromium(
            bin,
            &work.join(format!("profile{group}")),
            &["--dump-dom".into(), "--allow-file-access-from-files".into()],
            &format!("file://{}", top_path.display()),
        );
        dom.push_str(&group_dom);
        log.push_str(&group_log);
    }
    // Console messages and CSP violations, by page: none, but the blocked script of a page
    // that stands for a browser with script off.
    let mut problems = Vec::new();
    for line in log.lines() {
        if ![
            "CONSOLE",
            "Uncaught",
            "Refused to",
            "Content Security Policy",
        ]
        .iter()
        .any(|b| line.contains(b))
        {
            continue;
        }
        let source = line
            .rsplit_once("source: ")
            .map_or("?", |(_, s)| s)
            .rsplit('/')
            .next()
            .unwrap_or("?");
        let expected = source.contains("-noscript.html")
            && line.contains(
                "violates the following Content Security Policy directive 'script-src 'none''",
            );
        if !expected {
            problems.push(format!("{source}: {line}"));
        }
    }
    assert!(
        problems.is_empty(),
        "browser console reported problems:\n{}",
        problems.join("\n")
    );
    // Every frame loaded; script ran where allowed; every failure listed with and without it.
    for (name, sections) in &rendered {
        for (page, script) in [
            (format!("{name}.html"), true),
            (format!("{name}-noscript.html"), false),
        ] {
            let at = dom
                .find(&format!(">{page} "))
                .unwrap_or_else(|| panic!("{page}: no result from the browser"));
            let line = &dom[at + 1..];
            let line = &line[..line.find(';').unwrap_or(line.len())];
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 4, "{page}: {line}");
            assert_eq!(
                fields[1],
                sections.to_string(),
                "{page}: failures listed ({line})"
            );
            assert_eq!(fields[3], "verdict", "{page}: the verdict ({line})");
            if *sections > 0 {
                let want = if script { "shown" } else { "hidden" };
                assert_eq!(fields[2], want, "{page}: filter bar ({line})");
            }
        }
    }
    eprintln!(
        "{} reports loaded in one browser, with script and without",
        rendered.len()
    );
    let _ = std::fs::remove_dir_all(&work);
}
