//! Navigation: each failure's permalink anchor (derived from its request id), the anchors of
//! categories and targets, the index that lists the failures of each, and the filter bar with
//! its few lines of inline script. Without script the index and anchors still reach every
//! failure; the filter bar stays hidden.

use super::esc;
use crate::diagnose::{Analysis, Finding, TargetRow};
use crate::flow::Endpoint;
use crate::taxonomy::Category;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt::Write as _;

/// Most failure links listed per category or target in the index (the table lists them all).
const MAX_INDEX_LINKS: usize = 60;

/// The filter script: shows the filter bar, hides table rows and failure sections whose
/// category or target do not match, applies a filter from index links or from the page's query
/// (`report.html?cat=keepalive_race&target=10.0.2.37:8080`), and clears it when a permalink
/// points at a hidden failure.
pub(super) const SCRIPT: &str = r#"(function(){var f=document.getElementById('filters');if(!f)return;f.hidden=false;
var c=f.elements.cat,t=f.elements.target,n=document.getElementById('shown');
function apply(){var k=0,all=document.querySelectorAll('[data-cat]');for(var i=0;i<all.length;i++){var e=all[i],ok=(!c.value||e.getAttribute('data-cat')===c.value)&&(!t.value||e.getAttribute('data-target')===t.value);e.hidden=!ok;if(ok&&e.tagName==='SECTION')k++;}n.textContent=k;}
c.onchange=t.onchange=apply;f.onreset=function(){setTimeout(apply,0);};
document.addEventListener('click',function(ev){var a=ev.target.closest&&ev.target.closest('a[data-fcat],a[data-ftarget]');if(!a)return;c.value=a.getAttribute('data-fcat')||'';t.value=a.getAttribute('data-ftarget')||'';apply();});
function reveal(){var e=location.hash&&document.getElementById(location.hash.slice(1));if(e&&e.hidden){c.value='';t.value='';apply();e.scrollIntoView();}}
var q=new URLSearchParams(location.search);if(q.get('cat'))c.value=q.get('cat');if(q.get('target'))t.value=q.get('target');apply();
window.addEventListener('hashchange',reveal);reveal();})();"#;

/// The Content-Security-Policy: no fetch of any kind, inline styles, and only [`SCRIPT`] (by
/// its hash) may run.
pub(super) fn csp() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'"
    )
}

/// Makes a string safe as an id fragment: ASCII letters, digits, `_` and `-`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The anchor of a category's entry in the index.
pub(super) fn category_id(c: Category) -> String {
    format!("cat-{}", c.name())
}

/// The value a failure's target filters by: the endpoint, or `-` without a back-end attempt.
pub(super) fn target_key(t: Option<Endpoint>) -> String {
    t.map_or_else(|| "-".to_string(), |e| e.to_string())
}

/// The anchor of a target's entry in the index.
pub(super) fn target_id(t: Option<Endpoint>) -> String {
    match t {
        Some(e) => format!("tgt-{}", slug(&e.to_string())),
        None => "tgt-none".into(),
    }
}

/// The anchor of a per-target table row key, when the index has an entry for it.
pub(super) fn target_row_id(row: &TargetRow) -> Option<String> {
    match row {
        TargetRow::Target(e) => Some(target_id(Some(*e))),
        TargetRow::NoTarget => Some(target_id(None)),
        TargetRow::Others => None,
    }
}

/// The permalink anchors of the listed failures, in order: `req-` and the request id (`f3.0`
/// becomes `req-f3-0`), stable across runs on the same capture; a repeated id gets a suffix.
pub(super) fn request_anchors(failed: &[&Finding]) -> Vec<String> {
    let mut seen = HashSet::new();
    failed
        .iter()
        .map(|f| {
            let base = format!("req-{}", slug(&f.id.to_string()));
            let mut id = base.clone();
            let mut n = 2;
            while !seen.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            id
        })
        .collect()
}

/// The data attributes a failure's row and section are filtered by.
pub(super) fn data_attrs(f: &Finding) -> String {
    format!(
        " data-cat=\"{}\" data-target=\"{}\"",
        esc(f.category.name()),
        esc(&target_key(f.target))
    )
}

/// The index of the failures by category and by target (anchors `cat-…`, `tgt-…`), then the
/// filter bar (hidden until the script shows it). `anchors` are the listed failures' anchors.
pub(super) fn index(h: &mut String, a: &Analysis, failed: &[&Finding], anchors: &[String]) {
    let linked = failed.len();
    // Every category and target with failures gets an entry (the time strip and the tables
    // link to them), also when none of its failures is listed in full.
    let mut cats: Vec<Category> = a
        .summary
        .by_category
        .keys()
        .copied()
        .filter(|c| c.is_failure())
        .collect();
    let mut targets: Vec<Option<Endpoint>> = a
        .metrics
        .by_target
        .iter()
        .filter(|(_, t)| t.all.failed > 0)
        .filter_map(|(k, _)| match k {
            TargetRow::Target(e) => Some(Some(*e)),
            TargetRow::NoTarget => Some(None),
            TargetRow::Others => None,
        })
        .collect();
    for f in failed {
        if !cats.contains(&f.category) {
            cats.push(f.category);
        }
        if !targets.contains(&f.target) {
            targets.push(f.target);
        }
    }
    let order = |c: &Category| Category::ALL.iter().position(|x| x == c);
    cats.sort_by_key(order);
    targets.sort();
    let links = |h: &mut String, pick: &dyn Fn(&Finding) -> bool| {
        if !failed.iter().any(|f| pick(f)) {
            h.push_str(" none listed in full");
            return;
        }
        let mine: Vec<usize> = (0..failed.len().min(linked))
            .filter(|&i| failed.get(i).is_some_and(|f| pick(f)))
            .collect();
        for &i in mine.iter().take(MAX_INDEX_LINKS) {
            if let Some(a) = anchors.get(i) {
                let _ = write!(h, " <a href=\"#{a}\">{}</a>", i + 1);
            }
        }
        if mine.len() > MAX_INDEX_LINKS {
            let _ = write!(
                h,
                " … and {} more in the table",
                mine.len() - MAX_INDEX_LINKS
            );
        }
    };
    h.push_str("<nav class=\"index\" aria-label=\"failures by category and target\"><div><b>By category</b><ul>");
    for c in &cats {
        let n = a
            .summary
            .by_category
            .get(c)
            .map_or(0, |x| x.count as usize)
            .max(failed.iter().filter(|f| f.category == *c).count());
        let _ = write!(
            h,
            "<li id=\"{}\"><a href=\"#failures\" data-fcat=\"{}\"><span class=\"cat\" style=\"border-left:6px solid {}\">{}</span></a> ({n}):",
            category_id(*c),
            esc(c.name()),
            super::palette::category(*c),
            esc(c.name())
        );
        links(h, &|f: &Finding| f.category == *c);
        h.push_str("</li>");
    }
    h.push_str("</ul></div><div><b>By target</b><ul>");
    for t in &targets {
        let n = failed.iter().filter(|f| f.target == *t).count();
        let name = t.map_or_else(|| "(no back-end attempt)".to_string(), |e| e.to_string());
        let _ = write!(
            h,
            "<li id=\"{}\"><a href=\"#failures\" data-ftarget=\"{}\" class=\"mono\">{}</a> ({n}):",
            target_id(*t),
            esc(&target_key(*t)),
            esc(&name)
        );
        links(h, &|f: &Finding| f.target == *t);
        h.push_str("</li>");
    }
    h.push_str("</ul></div></nav>\n");
    h.push_str(
        "<form id=\"filters\" class=\"filters\" hidden><b>Show</b> <label>category <select name=\"cat\"><option value=\"\">all</option>",
    );
    for c in &cats {
        let _ = write!(h, "<option>{}</option>", esc(c.name()));
    }
    h.push_str(
        "</select></label> <label>target <select name=\"target\"><option value=\"\">all</option>",
    );
    for t in &targets {
        let _ = write!(h, "<option>{}</option>", esc(&target_key(*t)));
    }
    let _ = writeln!(
        h,
        "</select></label> <button type=\"reset\">show all</button> <span class=\"note\">failures shown: <span id=\"shown\">{}</span></span></form>",
        failed.len().min(linked)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_id_safe() {
        assert_eq!(slug("f3.0"), "f3-0");
        assert_eq!(slug("[2001:db8::1]:80"), "-2001-db8--1--80");
    }

    #[test]
    fn csp_names_the_script_hash() {
        let c = csp();
        assert!(c.contains("script-src 'sha256-"), "{c}");
        assert!(!c.contains("unsafe-inline'; img") || c.contains("style-src 'unsafe-inline'"));
        assert!(!c.contains("script-src 'unsafe-inline'"));
    }
}
