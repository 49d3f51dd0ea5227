//! One-line fixes per category, with server-specific keep-alive advice (DOMAIN.md).

use super::classify::FixDetail;
use super::Category;

/// A target server recognised from its `Server` / `X-Powered-By` headers.
struct ServerKind {
    name: &'static str,
    default_keepalive: &'static str,
    setting: &'static str,
}

fn recognise(server: Option<&str>, powered_by: Option<&str>) -> Option<ServerKind> {
    let s = server.unwrap_or("").to_ascii_lowercase();
    let p = powered_by.unwrap_or("").to_ascii_lowercase();
    let kind = |name, default_keepalive, setting| {
        Some(ServerKind {
            name,
            default_keepalive,
            setting,
        })
    };
    if p.contains("express") || p.contains("next.js") || s.contains("node") {
        return kind(
            "Node.js",
            "5 s",
            "server.keepAliveTimeout = {ms} and server.headersTimeout = {ms2}",
        );
    }
    if s.contains("gunicorn") {
        return kind("gunicorn", "2 s", "--keep-alive {s}");
    }
    if s.contains("uvicorn") {
        return kind("uvicorn", "5 s", "--timeout-keep-alive {s}");
    }
    if s.contains("apache") {
        return kind("Apache httpd", "5 s", "KeepAliveTimeout {s}");
    }
    if s.contains("nginx") {
        return kind(
            "nginx",
            "75 s",
            "keepalive_timeout {s}s (the default 75 s is already above 60 s: check it was lowered)",
        );
    }
    if s.contains("microsoft-iis") || p.contains("asp.net") {
        return kind(
            "IIS",
            "120 s",
            "the site's connectionTimeout to {s} s (default 120 s)",
        );
    }
    None
}

/// The keep-alive advice for the target's server, with the numbers filled in.
pub(super) fn server_hint(d: &FixDetail) -> Option<String> {
    let k = recognise(d.server.as_deref(), d.powered_by.as_deref())?;
    let want = (d.idle_s + 5.0).round().max(1.0) as u64;
    let setting = k
        .setting
        .replace(
            "{ms2}",
            &want.saturating_add(1).saturating_mul(1000).to_string(),
        )
        .replace("{ms}", &want.saturating_mul(1000).to_string())
        .replace("{s}", &want.to_string());
    Some(format!(
        "{}: {setting} (its default keep-alive is {})",
        k.name, k.default_keepalive
    ))
}

/// The one-line fix for a category.
pub(super) fn fix_for(category: Category, d: &FixDetail) -> Option<String> {
    let idle = format!("{:.0} s", d.idle_s);
    let target = d.target.clone().unwrap_or_else(|| "the target".into());
    let keepalive = || match server_hint(d) {
        Some(h) => {
            format!("set the target's keep-alive timeout above the ALB idle timeout ({idle}): {h}")
        }
        None => format!(
            "set the target's keep-alive timeout a few seconds above the ALB idle timeout \
             ({idle}), e.g. {:.0} s",
            d.idle_s + 5.0
        ),
    };
    let trace = d
        .trace_id
        .as_ref()
        .map(|t| format!(" (trace id {t})"))
        .unwrap_or_default();
    let s = match category {
        Category::TargetConnectRefused => match d.port {
            Some(port) => format!(
                "make the application on {target} listen on port {port} (`ss -ltnp | grep \
                 :{port}`: did it crash or restart?); if it is overloaded, raise its listen \
                 backlog/workers"
            ),
            None => "make the targets' application listen on the target port (did it crash or \
                     restart?); capture the target ENIs to confirm the cause"
                .to_string(),
        },
        Category::TargetUnreachableIcmp => format!(
            "make {target} reachable from the ALB subnets: check routes, network ACLs, and the \
             target's firewall ({})",
            d.extra.clone().unwrap_or_else(|| "ICMP unreachable".into())
        ),
        Category::TargetClosedBeforeResponse => format!(
            "find why the target drops connections mid-request (crash, worker restart, \
             application timeout) in its logs{trace}; and {}",
            keepalive()
        ),
        Category::KeepaliveRace => keepalive(),
        Category::MalformedResponse => format!(
            "fix the application on {target}: it must answer a valid HTTP/1.x status line and \
             headers{trace}"
        ),
        Category::ResponseHeaderTooLarge => format!(
            "shrink the response headers of {target} below 32 KB (large cookies or custom \
             headers){trace}"
        ),
        Category::TargetTlsHandshakeFailed => format!(
            "let the target's TLS listener accept a version and cipher the ALB offers ({})",
            d.extra
                .clone()
                .unwrap_or_else(|| "see the ClientHello".into())
        ),
        Category::DeregistrationAbort => "raise the target group's deregistration delay above \
             the longest request time, or stop sending long requests to targets being \
             deregistered"
            .to_string(),
        Category::TargetConnectTimeout if d.return_path_blocked => format!(
            "open the return path from {target} to the ALB: the target's security group and \
             network ACLs must allow its replies to the ALB subnets on ephemeral ports \
             1024-65535"
        ),
        Category::TargetConnectTimeout => format!(
            "allow the ALB subnets to reach {target}{}: target security group inbound from the \
             ALB's, network ACLs both ways (ephemeral ports 1024-65535 back), routes, host \
             firewall",
            d.port.map(|p| format!(" on port {p}")).unwrap_or_default()
        ),
        Category::TargetTlsHandshakeTimeout => format!(
            "make {target} complete TLS handshakes within 10 s (is its TLS listener overloaded \
             or blocked?)"
        ),
        Category::TargetIdleTimeout => format!(
            "make the request finish within the ALB idle timeout ({idle}) or raise the ALB's \
             idle timeout (idle_timeout.timeout_seconds) above the longest request{trace}"
        ),
        Category::IncompleteBody => format!(
            "fix the target's Content-Length: it must match the body sent ({})",
            d.extra.clone().unwrap_or_default()
        ),
        Category::TargetGeneratedError => format!(
            "the error came from the target{}: look in the application's logs{trace}",
            d.server
                .as_ref()
                .map(|s| format!(" (Server: {s})"))
                .unwrap_or_default()
        ),
        Category::ClientClosed => "the client gave up before the ALB answered (ALB logs 460): \
             compare the client's timeout with the target's response time"
            .to_string(),
        Category::NoTargetAttempt => "the ALB answered without contacting a target: check that \
             the target group has healthy registered targets (503) and the listener rules"
            .to_string(),
        Category::Ok | Category::Undetermined => return None,
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(server: &str, powered: Option<&str>) -> FixDetail {
        FixDetail {
            server: Some(server.into()),
            powered_by: powered.map(str::to_string),
            idle_s: 60.0,
            ..FixDetail::default()
        }
    }

    #[test]
    fn node_fix_names_both_timeouts() {
        let f = fix_for(Category::KeepaliveRace, &detail("x", Some("Express"))).unwrap();
        assert!(f.contains("keepAliveTimeout = 65000"), "{f}");
        assert!(f.contains("headersTimeout = 66000"), "{f}");
        assert!(f.contains("(60 s)"), "{f}");
    }

    #[test]
    fn servers_are_recognised() {
        for (s, want) in [
            ("Apache/2.4.58 (Ubuntu)", "KeepAliveTimeout 65"),
            ("gunicorn", "--keep-alive 65"),
            ("uvicorn", "--timeout-keep-alive 65"),
            ("nginx/1.25", "keepalive_timeout 65s"),
            ("Microsoft-IIS/10.0", "connectionTimeout"),
        ] {
            let h = server_hint(&detail(s, None)).unwrap();
            assert!(h.contains(want), "{s}: {h}");
        }
        assert!(server_hint(&detail("Jetty", None)).is_none());
    }
}
