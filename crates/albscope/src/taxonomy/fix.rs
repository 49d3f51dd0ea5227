//! One-line fixes per category, and the keep-alive defaults of common target servers for the
//! concrete keep-alive advice (DOMAIN.md, "Keep-alive defaults of common target servers").

use super::Category;
use crate::capture::Duration;

/// The load balancer's idle timeout when nobody changed it (60 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration(60_000_000_000);

/// How far above the ALB idle timeout the advice puts the target's keep-alive timeout, seconds.
pub const KEEPALIVE_MARGIN_S: u64 = 5;

/// A target server's keep-alive default and the setting that changes it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ServerKeepAlive {
    /// The server as advice names it, e.g. `Node.js`, `Apache httpd`.
    pub name: &'static str,
    /// Its idle keep-alive timeout out of the box.
    pub default_keepalive: Duration,
    /// The server and its setting in a list of knobs, e.g. `Apache KeepAliveTimeout`.
    pub knob: &'static str,
    /// The setting's own name, e.g. `keepAliveTimeout`, `--keep-alive`.
    pub option: &'static str,
    /// The setting with the wanted value filled in: `{s}` seconds, `{ms}` milliseconds,
    /// `{ms2}` milliseconds one second longer.
    pub setting: &'static str,
}

impl ServerKeepAlive {
    /// True when the server's default keep-alive is shorter than the ALB's default idle
    /// timeout: out of the box it races the ALB.
    pub fn races_by_default(&self) -> bool {
        self.default_keepalive < DEFAULT_IDLE_TIMEOUT
    }
}

const fn secs(s: i64) -> Duration {
    Duration(s * 1_000_000_000)
}

/// A common target server whose keep-alive default is known (DOMAIN.md's list, in its order,
/// then Apache Tomcat).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TargetServer {
    /// Node.js (also Express, Next.js).
    NodeJs,
    /// Apache httpd.
    Apache,
    /// gunicorn.
    Gunicorn,
    /// uvicorn.
    Uvicorn,
    /// nginx.
    Nginx,
    /// Microsoft IIS.
    Iis,
    /// Apache Tomcat (its HTTP connector, Coyote; also under Spring Boot).
    Tomcat,
}

impl TargetServer {
    /// The server's keep-alive default and setting.
    pub fn keepalive(self) -> &'static ServerKeepAlive {
        &SERVER_KEEPALIVE[self as usize]
    }
}

/// The keep-alive defaults of common target servers, indexed by [`TargetServer`].
pub const SERVER_KEEPALIVE: [ServerKeepAlive; 7] = [
    ServerKeepAlive {
        name: "Node.js",
        default_keepalive: secs(5),
        knob: "Node.js keepAliveTimeout (and headersTimeout)",
        option: "keepAliveTimeout",
        setting: "server.keepAliveTimeout = {ms} and server.headersTimeout = {ms2}",
    },
    ServerKeepAlive {
        name: "Apache httpd",
        default_keepalive: secs(5),
        knob: "Apache KeepAliveTimeout",
        option: "KeepAliveTimeout",
        setting: "KeepAliveTimeout {s}",
    },
    ServerKeepAlive {
        name: "gunicorn",
        default_keepalive: secs(2),
        knob: "gunicorn --keep-alive",
        option: "--keep-alive",
        setting: "--keep-alive {s}",
    },
    ServerKeepAlive {
        name: "uvicorn",
        default_keepalive: secs(5),
        knob: "uvicorn --timeout-keep-alive",
        option: "--timeout-keep-alive",
        setting: "--timeout-keep-alive {s}",
    },
    ServerKeepAlive {
        name: "nginx",
        default_keepalive: secs(75),
        knob: "nginx keepalive_timeout",
        option: "keepalive_timeout",
        setting: "keepalive_timeout {s}s (the default 75 s is already above 60 s: check it was \
                  lowered)",
    },
    ServerKeepAlive {
        name: "IIS",
        default_keepalive: secs(120),
        knob: "IIS connectionTimeout",
        option: "connectionTimeout",
        setting: "the site's connectionTimeout to {s} s (default 120 s)",
    },
    // keepAliveTimeout defaults to the connector's connectionTimeout: 20 s in the server.xml
    // Tomcat ships (a standalone Tomcat, whose versions up to 8.0 send `Server:
    // Apache-Coyote/1.1`), 60 s in the connector's own code (embedded Tomcat, Spring Boot).
    ServerKeepAlive {
        name: "Apache Tomcat",
        default_keepalive: secs(20),
        knob: "Tomcat keepAliveTimeout",
        option: "keepAliveTimeout",
        setting: "keepAliveTimeout=\"{ms}\" on the HTTP Connector (Spring Boot: \
                  server.tomcat.keep-alive-timeout={s}s)",
    },
];

/// The servers whose default keep-alive races the ALB, as a list of their settings:
/// `Node.js keepAliveTimeout (and headersTimeout), Apache KeepAliveTimeout, ...`.
pub fn racing_knobs() -> String {
    SERVER_KEEPALIVE
        .iter()
        .filter(|k| k.races_by_default())
        .map(|k| k.knob)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The server named by a target's `Server` / `X-Powered-By` headers, if it is one of
/// [`TargetServer`].
pub fn recognise(server: Option<&str>, powered_by: Option<&str>) -> Option<TargetServer> {
    let s = server.unwrap_or("").to_ascii_lowercase();
    let p = powered_by.unwrap_or("").to_ascii_lowercase();
    let kind = if p.contains("express") || p.contains("next.js") || s.contains("node") {
        TargetServer::NodeJs
    } else if s.contains("coyote") || s.contains("tomcat") {
        // before "apache": Tomcat's own header is `Apache-Coyote/1.1`
        TargetServer::Tomcat
    } else if s.contains("gunicorn") {
        TargetServer::Gunicorn
    } else if s.contains("uvicorn") {
        TargetServer::Uvicorn
    } else if s.contains("apache") {
        TargetServer::Apache
    } else if s.contains("nginx") {
        TargetServer::Nginx
    } else if s.contains("microsoft-iis") || p.contains("asp.net") {
        TargetServer::Iis
    } else {
        return None;
    };
    Some(kind)
}

/// Facts about one request a fix line may quote (filled by the diagnosis).
#[derive(Default, Clone, Debug, PartialEq)]
pub struct FixFacts {
    /// Target `ip:port`.
    pub target: Option<String>,
    /// Target port.
    pub port: Option<u16>,
    /// Target Server header.
    pub server: Option<String>,
    /// Target X-Powered-By header.
    pub powered_by: Option<String>,
    /// ALB idle timeout, seconds.
    pub idle_s: f64,
    /// Keep-alive timeout seen for the target, seconds.
    pub keepalive_s: Option<f64>,
    /// Keep-alive timeout the target announces (`Keep-Alive: timeout=N`), seconds.
    pub announced_keepalive_s: Option<f64>,
    /// A category-specific fact the fix line quotes.
    pub extra: Option<FixExtra>,
    /// Connect timeout from the target's vantage (SYN-ACK sent, SYN retransmitted).
    pub return_path_blocked: bool,
    /// Trace id.
    pub trace_id: Option<String>,
}

/// A category-specific fact a fix line quotes, as values (the template words it).
#[derive(Clone, Debug, PartialEq)]
pub enum FixExtra {
    /// The ICMP error that answered the ALB's SYN.
    Icmp {
        /// What the ICMP type and code mean.
        description: String,
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
    /// What the ALB's ClientHello offered.
    TlsOffer {
        /// The TLS versions offered, as named in the evidence.
        versions: String,
        /// How many cipher suites.
        ciphers: usize,
    },
    /// A body shorter than its Content-Length (or a chunked body without its last chunk).
    BodyShort {
        /// Bytes declared; `None` for a chunked body.
        declared: Option<u64>,
        /// Bytes sent.
        sent: u64,
    },
}

/// The keep-alive advice for the target's server, with the numbers filled in; `None` when the
/// server is not recognised.
pub fn keepalive_hint(d: &FixFacts) -> Option<String> {
    let k = recognise(d.server.as_deref(), d.powered_by.as_deref())?.keepalive();
    let want = (d.idle_s + KEEPALIVE_MARGIN_S as f64).round().max(1.0) as u64;
    let setting = k
        .setting
        .replace(
            "{ms2}",
            &want.saturating_add(1).saturating_mul(1000).to_string(),
        )
        .replace("{ms}", &want.saturating_mul(1000).to_string())
        .replace("{s}", &want.to_string());
    Some(format!(
        "{}: {setting} (its default keep-alive is {} s)",
        k.name,
        k.default_keepalive.0 / 1_000_000_000
    ))
}

/// The one-line fix for a category, `None` for `ok` and `undetermined`.
pub fn fix_text(category: Category, d: &FixFacts) -> Option<String> {
    let idle = format!("{:.0} s", d.idle_s);
    let target = d.target.clone().unwrap_or_else(|| "the target".into());
    // The target's own word for its keep-alive timeout, when it is below the idle timeout.
    let announced = d
        .announced_keepalive_s
        .filter(|n| *n < d.idle_s)
        .map(|n| format!("; the target announces `Keep-Alive: timeout={n}`, below it"))
        .unwrap_or_default();
    let keepalive = || match keepalive_hint(d) {
        Some(h) => format!(
            "set the target's keep-alive timeout above the ALB idle timeout \
             ({idle}{announced}): {h}"
        ),
        None => format!(
            "set the target's keep-alive timeout a few seconds above the ALB idle timeout \
             ({idle}{announced}), e.g. {:.0} s",
            d.idle_s + KEEPALIVE_MARGIN_S as f64
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
            match &d.extra {
                Some(FixExtra::Icmp {
                    description,
                    icmp_type,
                    code,
                }) => format!("ICMP {description} (type {icmp_type} code {code})"),
                _ => "ICMP unreachable".into(),
            }
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
            match &d.extra {
                Some(FixExtra::TlsOffer { versions, ciphers }) => {
                    format!("{versions} with {ciphers} cipher suites, listed in the evidence")
                }
                _ => "see the ClientHello".into(),
            }
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
        // A SYN goes unanswered when something drops it on the way (security group, network
        // ACL, route, host firewall) or when it reaches a listener whose accept queue is full:
        // Linux drops SYNs then, without RST (an application that stopped accepting).
        Category::TargetConnectTimeout => format!(
            "allow the ALB subnets to reach {target}{}: target security group inbound from the \
             ALB's, network ACLs both ways (ephemeral ports 1024-65535 back), routes, host \
             firewall; if the SYNs do reach the target (a capture on it shows them), its \
             listen queue is full: the application stopped accepting connections (overloaded, \
             or at its connection or worker limit)",
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
        Category::IncompleteBody => match &d.extra {
            // Who closed does not tell a wrong Content-Length from a stall: the ALB closes
            // both at its idle timeout, a target that crashed closes itself.
            Some(FixExtra::BodyShort {
                declared: None,
                sent,
            }) => format!(
                "the target's chunked response stopped after {sent} body bytes, without its last \
                 chunk: look in the application's logs for a crash, or a stall longer than the \
                 ALB idle timeout ({idle}), while it was sending{trace}"
            ),
            Some(FixExtra::BodyShort {
                declared: Some(declared),
                sent,
            }) => format!(
                "the target declared Content-Length: {declared} but sent only {sent} body bytes: \
                 if the body is that short, fix the Content-Length; else find why the \
                 application stopped sending (a crash, or a stall longer than the ALB idle \
                 timeout ({idle})){trace}"
            ),
            _ => "fix the target's Content-Length: it must match the body sent ()".to_string(),
        },
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

    fn facts(server: &str, powered: Option<&str>) -> FixFacts {
        FixFacts {
            server: Some(server.into()),
            powered_by: powered.map(str::to_string),
            idle_s: 60.0,
            ..FixFacts::default()
        }
    }

    #[test]
    fn node_fix_names_both_timeouts() {
        let f = fix_text(Category::KeepaliveRace, &facts("x", Some("Express"))).unwrap();
        assert!(f.contains("keepAliveTimeout = 65000"), "{f}");
        assert!(f.contains("headersTimeout = 66000"), "{f}");
        assert!(f.contains("(60 s)"), "{f}");
        assert!(f.contains("its default keep-alive is 5 s"), "{f}");
    }

    #[test]
    fn servers_are_recognised() {
        for (s, want) in [
            ("Apache/2.4.58 (Ubuntu)", "KeepAliveTimeout 65"),
            ("gunicorn", "--keep-alive 65"),
            ("uvicorn", "--timeout-keep-alive 65"),
            ("nginx/1.25", "keepalive_timeout 65s"),
            ("Microsoft-IIS/10.0", "connectionTimeout"),
            ("Apache-Coyote/1.1", "keepAliveTimeout=\"65000\""),
            (
                "Apache Tomcat/9.0.80",
                "server.tomcat.keep-alive-timeout=65s",
            ),
        ] {
            let h = keepalive_hint(&facts(s, None)).unwrap();
            assert!(h.contains(want), "{s}: {h}");
        }
        assert!(keepalive_hint(&facts("Jetty", None)).is_none());
    }

    #[test]
    fn table_is_indexed_by_server() {
        assert_eq!(TargetServer::NodeJs.keepalive().name, "Node.js");
        assert_eq!(TargetServer::Iis.keepalive().name, "IIS");
        assert_eq!(
            TargetServer::Gunicorn.keepalive().default_keepalive,
            Duration(2_000_000_000)
        );
    }

    #[test]
    fn racing_servers_are_those_below_sixty_seconds() {
        assert_eq!(
            racing_knobs(),
            "Node.js keepAliveTimeout (and headersTimeout), Apache KeepAliveTimeout, gunicorn \
             --keep-alive, uvicorn --timeout-keep-alive, Tomcat keepAliveTimeout"
        );
    }
}
