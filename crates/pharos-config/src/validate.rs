//! From TOML text to a validated `Config`: one pass that reads every table, checks every value
//! and cross-reference, and collects all problems instead of stopping at the first.

use crate::model::*;
use crate::problems::{ConfigErrors, Problems};
use crate::reader::{Context, EnvLookup, TableReader};
use crate::{MissingEnv, Problem};
use base64::Engine as _;
use pharos_core::regions::Quorum;
use pharos_core::{ComponentId, DetectionPolicy, IncidentTemplates, MonitorId};
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;
use toml::de::DeTable;
use url::Url;

/// Parses and validates a configuration; `file` names it in problems, `env` resolves `${NAME}`
/// and an unset variable is an error.
pub fn parse(file: &str, source: &str, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    parse_with(file, source, env, MissingEnv::Error).map(|(config, _)| config)
}

/// Like `parse`, with the choice of what an unset variable is; returns the warnings too.
pub fn parse_with(
    file: &str,
    source: &str,
    env: EnvLookup<'_>,
    missing_env: MissingEnv,
) -> Result<(Config, Vec<Problem>), ConfigErrors> {
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    let mut cx = Context {
        problems: Problems::new(file, source),
        env,
        missing_env,
    };
    for error in syntax_errors {
        let message = error.message().trim().replace('\n', "; ");
        cx.problems.report(
            error.span().unwrap_or(0..0),
            format!("invalid TOML: {message}"),
        );
    }
    let mut root = TableReader::new(document.get_ref(), document.span(), "the top level");

    let server = read_server(&mut cx, &mut root);
    let page = read_page(&mut cx, &mut root);
    let publish = read_publish(&mut cx, &mut root);
    let retention = read_retention(&mut cx, &mut root);
    let incidents = read_incidents(&mut cx, &mut root);
    let defaults = read_defaults(&mut cx, &mut root);
    let components = read_components(&mut cx, &mut root);
    let component_ids: HashMap<ComponentId, ()> = components
        .iter()
        .map(|component| (component.id.clone(), ()))
        .collect();
    let monitors = read_monitors(&mut cx, &mut root, &defaults, &component_ids);
    let channels = crate::channels::read_channels(&mut cx, &mut root, &component_ids);
    let routes = crate::channels::read_routes(&mut cx, &mut root, &components, &channels);
    let maintenance = crate::maintenance::read_maintenance(&mut cx, &mut root, &component_ids);
    let subscribers = crate::subscribers::read_subscribers(
        &mut cx,
        &mut root,
        &channels,
        server.public_url.is_some(),
    );
    root.finish(&mut cx);
    let assignments = crate::assignment::build(source, env, &server.region, &monitors);

    cx.problems.into_result(Config {
        assignments,
        server,
        page,
        publish,
        retention,
        incidents,
        components,
        monitors,
        channels,
        routes,
        maintenance,
        subscribers,
    })
}

fn read_server(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> ServerConfig {
    let mut server = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        database: pharos_core::DatabaseUrl::new("pharos.db"),
        public_url: None,
        admin_token: None,
        trusted_proxies: Vec::new(),
        region: pharos_core::regions::HOME_REGION.to_owned(),
    };
    let Some(mut table) = root.table(cx, "server", "[server]") else {
        return server;
    };
    if let Some((name, span)) = table.string(cx, "region") {
        if is_region_name(&name) {
            server.region = name;
        } else {
            cx.problems.report(
                span,
                format!("`region` `{name}` must be 1 to {MAX_REGION} lower-case letters, digits, `-` or `_`"),
            );
        }
    }
    if let Some((text, span)) = table.string(cx, "listen") {
        match text.parse() {
            Ok(address) => server.listen = address,
            Err(_) => cx.problems.report(span, format!("`listen` must be an address and port such as \"127.0.0.1:8080\", found `{text}`")),
        }
    }
    if let Some((text, span)) = table.string(cx, "database") {
        let url = pharos_core::DatabaseUrl::new(text);
        if url.backend() == pharos_core::Backend::Postgres {
            if let Err(problem) = url.check_postgres() {
                cx.problems
                    .report(span, format!("`database` {url}: {problem}"));
            }
        }
        server.database = url;
    }
    if let Some((text, span)) = table.string(cx, "public_url") {
        server.public_url = read_url(cx, &text, span, "public_url");
    }
    if let Some((text, span)) = table.string(cx, "admin_token") {
        if text.len() < 16 {
            cx.problems
                .report(span, "`admin_token` must be at least 16 characters long");
        }
        server.admin_token = Some(SecretString::from(text));
    }
    for (text, span) in table.strings(cx, "trusted_proxies").unwrap_or_default() {
        match IpNet::parse(&text) {
            Some(net) => server.trusted_proxies.push(net),
            None => cx.problems.report(
                span,
                format!("`trusted_proxies` holds addresses or networks such as \"10.0.0.0/8\", found `{text}`"),
            ),
        }
    }
    table.finish(cx);
    server
}

fn read_page(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> PageConfig {
    let mut page = PageConfig {
        title: "Service status".to_owned(),
        description: None,
    };
    let Some(mut table) = root.table(cx, "page", "[page]") else {
        return page;
    };
    if let Some((title, _)) = table.text(cx, "title") {
        page.title = title;
    }
    page.description = table.text(cx, "description").map(|(text, _)| text);
    table.finish(cx);
    page
}

fn read_publish(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> PublishConfig {
    let mut publish = PublishConfig::default();
    let Some(mut table) = root.table(cx, "publish", "[publish]") else {
        return publish;
    };
    if let Some((dir, span)) = table.text(cx, "dir") {
        if dir.trim().is_empty() {
            cx.problems
                .report(span, "`dir` in [publish] must name a directory");
        } else {
            publish.dir = Some(std::path::PathBuf::from(dir));
        }
    }
    if let Some(hook) = table.strings(cx, "hook") {
        if let Some((_, span)) = hook
            .first()
            .filter(|(program, _)| program.trim().is_empty())
        {
            cx.problems.report(
                span.clone(),
                "`hook` in [publish] starts with the program to run",
            );
        }
        publish.hook = hook.into_iter().map(|(part, _)| part).collect();
    }
    table.finish(cx);
    publish
}

fn read_retention(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> RetentionConfig {
    let mut retention = RetentionConfig {
        raw_results: Duration::from_secs(7 * 86_400),
        rollups: Duration::from_secs(400 * 86_400),
    };
    let Some(mut table) = root.table(cx, "retention", "[retention]") else {
        return retention;
    };
    if let Some(raw) = table.duration(cx, "raw_results") {
        if raw < Duration::from_secs(2 * 86_400) {
            cx.problems.report(table.span.clone(), "`raw_results` in [retention] must be at least 2 days: daily roll-ups are computed from raw results");
        }
        if raw > Duration::from_secs(366 * 86_400) {
            cx.problems.report(table.span.clone(), "`raw_results` in [retention] must be at most 366 days: older history lives on in roll-ups");
        }
        retention.raw_results = raw;
    }
    if let Some(rollups) = table.duration(cx, "rollups") {
        if rollups < Duration::from_secs(90 * 86_400) {
            cx.problems.report(table.span.clone(), "`rollups` in [retention] must be at least 90 days: the status page shows 90 days of history");
        }
        retention.rollups = rollups;
    }
    table.finish(cx);
    retention
}

fn read_incidents(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> IncidentConfig {
    let mut incidents = IncidentConfig {
        update_every: Duration::from_secs(30 * 60),
        settle: Duration::from_secs(60),
        correlation_window: Duration::from_secs(60),
    };
    let Some(mut table) = root.table(cx, "incidents", "[incidents]") else {
        return incidents;
    };
    if let Some(every) = table.duration(cx, "update_every") {
        if every < Duration::from_secs(60) {
            cx.problems.report(
                table.span.clone(),
                "`update_every` in [incidents] must be at least 1m",
            );
        }
        incidents.update_every = every;
    }
    if let Some(settle) = table.duration(cx, "settle") {
        if settle > Duration::from_secs(15 * 60) {
            cx.problems.report(
                table.span.clone(),
                "`settle` in [incidents] must be at most 15m: readers need to hear of a change",
            );
        }
        incidents.settle = settle;
    }
    if let Some(window) = table.duration(cx, "correlation_window") {
        if window > Duration::from_secs(30 * 60) {
            cx.problems.report(
                table.span.clone(),
                "`correlation_window` in [incidents] must be at most 30m",
            );
        }
        incidents.correlation_window = window;
    }
    table.finish(cx);
    incidents
}

/// Monitor settings that `[defaults]` can set once for all monitors.
#[derive(Clone)]
struct MonitorDefaults {
    /// Whether `[defaults]` set the interval explicitly.
    interval_set: bool,
    /// Whether `[defaults]` set the timeout explicitly.
    timeout_set: bool,
    interval: Duration,
    timeout: Duration,
    policy: DetectionPolicy,
    degraded_above: Option<Duration>,
    /// The regions that check a monitor (None: the server's own).
    regions: Option<Vec<String>>,
    quorum: Quorum,
}

fn read_defaults(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> MonitorDefaults {
    let mut defaults = MonitorDefaults {
        interval_set: false,
        timeout_set: false,
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
        policy: DetectionPolicy::default(),
        degraded_above: None,
        regions: None,
        quorum: Quorum::default(),
    };
    let Some(mut table) = root.table(cx, "defaults", "[defaults]") else {
        return defaults;
    };
    defaults.interval_set = table.has("interval");
    defaults.timeout_set = table.has("timeout");
    read_timing(cx, &mut table, &mut defaults);
    table.finish(cx);
    defaults
}

/// The longest interval between two runs of a monitor.
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 86_400);

fn read_timing(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    timing: &mut MonitorDefaults,
) {
    if let Some(interval) = table.duration(cx, "interval") {
        timing.interval = interval;
    }
    if let Some(timeout) = table.duration(cx, "timeout") {
        timing.timeout = timeout;
    }
    if let Some(count) = table.integer(cx, "failures_to_confirm", 1..101) {
        timing.policy.failures_to_confirm = count as u32;
    }
    if let Some(count) = table.integer(cx, "successes_to_recover", 1..101) {
        timing.policy.successes_to_recover = count as u32;
    }
    if let Some(delay) = table.duration(cx, "confirm_delay") {
        timing.policy.confirm_delay = delay;
    }
    if let Some(threshold) = table.duration(cx, "degraded_above") {
        timing.degraded_above = Some(threshold);
    }
    if let Some(regions) = read_regions(cx, table) {
        timing.regions = Some(regions);
    }
    if let Some(quorum) = read_quorum(cx, table) {
        timing.quorum = quorum;
    }
    // Values inherited from [defaults] were checked there: a bad one is reported once, at it.
    let interval_span = table.value("interval").map(|value| value.span());
    let timeout_span = table.value("timeout").map(|value| value.span());
    if timing.interval < Duration::from_secs(1) || timing.interval > MAX_INTERVAL {
        if let Some(span) = interval_span.clone() {
            cx.problems.report(
                span,
                format!(
                    "`interval` in {} must be at least 1s and at most 7 days",
                    table.name
                ),
            );
        }
    } else if timing.timeout.is_zero() || timing.timeout > timing.interval {
        if let Some(span) = timeout_span.or(interval_span) {
            cx.problems.report(
                span,
                format!(
                    "`timeout` in {} must be above zero and no longer than `interval`",
                    table.name
                ),
            );
        }
    }
}

/// The longest region name.
const MAX_REGION: usize = 32;

/// Whether `name` can name a region: lower-case letters, digits, `-` and `_`.
pub fn is_region_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_REGION
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// `regions = ["local", "eu-west"]`: where a monitor is checked from.
fn read_regions(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<Vec<String>> {
    let items = table.strings(cx, "regions")?;
    let span = table.value("regions").map(|value| value.span());
    let mut regions: Vec<String> = Vec::new();
    for (name, span) in items {
        if !is_region_name(&name) {
            cx.problems.report(
                span,
                format!("region `{name}` must be 1 to {MAX_REGION} lower-case letters, digits, `-` or `_`"),
            );
        } else if regions.contains(&name) {
            cx.problems
                .report(span, format!("region `{name}` is listed twice"));
        } else {
            regions.push(name);
        }
    }
    if regions.is_empty() {
        if let Some(span) = span {
            cx.problems
                .report(span, format!("`regions` in {} names no region", table.name));
        }
        return None;
    }
    Some(regions)
}

/// `quorum = "majority"` (or "any", "all", or a number of regions).
fn read_quorum(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<Quorum> {
    let value = table.value("quorum")?;
    if value.get_ref().as_integer().is_some() {
        return table
            .integer(cx, "quorum", 1..1001)
            .map(|count| Quorum::AtLeast(count as u32));
    }
    let (text, span) = table.string(cx, "quorum")?;
    let quorum = Quorum::parse(&text);
    if quorum.is_none() {
        cx.problems.report(
            span,
            format!("`quorum` in {} must be \"any\", \"all\", \"majority\" or a number of regions, found `{text}`", table.name),
        );
    }
    quorum
}

pub(crate) fn read_slug(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    kind: &str,
) -> Option<(String, Range<usize>)> {
    let (id, span) = table.required_string(cx, "id")?;
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        cx.problems.report(
            span,
            format!("{kind} id `{id}` must be 1 to 64 lower-case letters, digits, `-` or `_`"),
        );
        return None;
    }
    table.rename(format!("{kind} `{id}`"));
    Some((id, span))
}

/// Reports ids seen twice; returns whether this one is new.
pub(crate) fn check_unique(
    cx: &mut Context<'_, '_>,
    seen: &mut HashMap<String, Range<usize>>,
    kind: &str,
    id: &str,
    span: Range<usize>,
) -> bool {
    if seen.contains_key(id) {
        cx.problems
            .report(span, format!("duplicate {kind} id `{id}`"));
        return false;
    }
    seen.insert(id.to_owned(), span);
    true
}

fn read_components(cx: &mut Context<'_, '_>, root: &mut TableReader<'_, '_>) -> Vec<Component> {
    let mut seen = HashMap::new();
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    for mut table in root.tables(cx, "components", "component") {
        let id = read_slug(cx, &mut table, "component");
        let name = table.required_text(cx, "name").map(|(name, _)| name);
        let group = table.text(cx, "group").map(|(group, _)| group);
        let description = table.text(cx, "description").map(|(text, _)| text);
        let depends_on = table.strings(cx, "depends_on").unwrap_or_default();
        let mut templates = IncidentTemplates::default();
        for (key, slot) in [
            ("incident_title", &mut templates.title),
            ("investigating_message", &mut templates.investigating),
            ("resolved_message", &mut templates.resolved),
        ] {
            if let Some((template, span)) = table.text(cx, key) {
                check_placeholders(cx, &template, span, key);
                *slot = template;
            }
        }
        table.finish(cx);
        if let (Some((id, span)), Some(name)) = (id, name) {
            if check_unique(cx, &mut seen, "component", &id, span) {
                components.push(Component {
                    id: ComponentId::new(id),
                    name,
                    group,
                    description,
                    templates,
                    depends_on: Vec::new(),
                });
                dependencies.push(depends_on);
            }
        }
    }
    crate::dependencies::check(cx, &mut components, dependencies);
    components
}

fn check_placeholders(cx: &mut Context<'_, '_>, template: &str, span: Range<usize>, key: &str) {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        let placeholder = &rest[start..start + length + 1];
        if !IncidentTemplates::PLACEHOLDERS.contains(&placeholder) {
            cx.problems.report(
                span.clone(),
                format!(
                    "`{key}` uses unknown placeholder `{placeholder}`; known: {}",
                    IncidentTemplates::PLACEHOLDERS.join(", ")
                ),
            );
        }
        rest = &rest[start + length + 1..];
    }
}

fn read_monitors(
    cx: &mut Context<'_, '_>,
    root: &mut TableReader<'_, '_>,
    defaults: &MonitorDefaults,
    components: &HashMap<ComponentId, ()>,
) -> Vec<Monitor> {
    let mut seen = HashMap::new();
    let mut monitors = Vec::new();
    for mut table in root.tables(cx, "monitors", "monitor") {
        let id = read_slug(cx, &mut table, "monitor");
        let name = table.text(cx, "name").map(|(name, _)| name);
        let component = match table.required_string(cx, "component") {
            Some((component, span)) => {
                let component = ComponentId::new(component);
                if components.contains_key(&component) {
                    Some(component)
                } else {
                    cx.problems.report(
                        span,
                        format!("{} refers to unknown component `{component}`", table.name),
                    );
                    None
                }
            }
            None => None,
        };
        let mut timing = defaults.clone();
        read_timing(cx, &mut table, &mut timing);
        let phase = table.duration(cx, "phase");
        let watch = match (table.boolean(cx, "watch"), table.value("watch")) {
            (Some(true), Some(value)) => {
                let kind = table.value("type").and_then(|kind| kind.get_ref().as_str());
                if !matches!(kind, Some("tcp" | "http" | "smtp" | "imap") | None) {
                    cx.problems.report(
                        value.span(),
                        format!(
                            "`watch` in {} holds a connection open, which tcp, http, smtp and imap monitors can do; not {}",
                            table.name,
                            kind.unwrap_or_default()
                        ),
                    );
                }
                true
            }
            _ => false,
        };
        let kind = table.required_string(cx, "type");
        let known_type = kind
            .as_ref()
            .is_some_and(|(kind, _)| MONITOR_TYPES.contains(&kind.as_str()));
        let probe = match kind {
            Some((kind, span)) => match kind.as_str() {
                "http" => read_http(cx, &mut table).map(ProbeSpec::Http),
                "tcp" => read_tcp(cx, &mut table).map(ProbeSpec::Tcp),
                "dns" => read_dns(cx, &mut table).map(ProbeSpec::Dns),
                "tls" => read_tls(cx, &mut table).map(ProbeSpec::Tls),
                "smtp" => read_smtp(cx, &mut table).map(ProbeSpec::Smtp),
                "imap" => read_imap(cx, &mut table).map(ProbeSpec::Imap),
                "pop3" => read_endpoint(cx, &mut table, Protocol::Pop3)
                    .map(|endpoint| ProbeSpec::Pop3(Pop3Spec { endpoint })),
                "mailflow" => read_mailflow(cx, &mut table).map(ProbeSpec::Mailflow),
                "maildomain" => read_maildomain(cx, &mut table).map(ProbeSpec::MailDomain),
                "provider" => {
                    crate::providers::read_provider(cx, &mut table).map(ProbeSpec::Provider)
                }
                other => {
                    cx.problems.report(
                        span,
                        format!(
                            "unknown monitor type `{other}`; known: {}",
                            MONITOR_TYPES.join(", ")
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        // A provider's word needs no confirmation, and its feed is read every 2 minutes
        // unless told otherwise.
        if let Some(ProbeSpec::Provider(_)) = &probe {
            if !table.has("interval") && !defaults.interval_set {
                timing.interval = Duration::from_secs(120);
            }
            if !table.has("failures_to_confirm") {
                timing.policy.failures_to_confirm = 1;
            }
            if !table.has("successes_to_recover") {
                timing.policy.successes_to_recover = 1;
            }
        }
        // A mail-flow check waits for delivery: unless told otherwise it runs every 5 minutes
        // and may take its delivery deadline plus 30s to send and clean up (less if its
        // interval is shorter than that).
        let inherited_is_sane = timing.interval >= Duration::from_secs(1)
            && timing.interval <= MAX_INTERVAL
            && timing.timeout <= timing.interval;
        if let (Some(ProbeSpec::Mailflow(spec)), true) = (&probe, inherited_is_sane) {
            if !table.has("interval") && !defaults.interval_set {
                timing.interval = Duration::from_secs(300);
            }
            if !table.has("timeout") && !defaults.timeout_set {
                timing.timeout =
                    (spec.deliver_within + Duration::from_secs(30)).min(timing.interval);
            }
            if timing.timeout <= spec.deliver_within || timing.timeout > timing.interval {
                let needed = spec.deliver_within + Duration::from_secs(30);
                cx.problems.report(
                    table.span.clone(),
                    format!(
                        "{} waits up to `deliver_within` ({}) for delivery, so its `timeout` ({}) must be longer than that and no longer than its `interval` ({}); \
                         with this deadline, set `interval` to {} or more (timeout then defaults to {}), or shorten `deliver_within`",
                        table.name,
                        humantime::format_duration(spec.deliver_within),
                        humantime::format_duration(timing.timeout),
                        humantime::format_duration(timing.interval),
                        humantime::format_duration(needed),
                        humantime::format_duration(needed),
                    ),
                );
            }
        }
        let interval_is_sane = timing.interval >= Duration::from_secs(1)
            && timing.interval <= MAX_INTERVAL
            && timing.timeout <= timing.interval;
        // An unknown type leaves its keys unread: reporting them as unknown would only add noise.
        if known_type {
            table.finish(cx);
        }
        if let (Some((id, span)), Some(component), Some(probe), true) =
            (id, component, probe, interval_is_sane)
        {
            if check_unique(cx, &mut seen, "monitor", &id, span) {
                monitors.push(Monitor {
                    name: name.unwrap_or_else(|| id.clone()),
                    id: MonitorId::new(id),
                    component,
                    interval: timing.interval,
                    timeout: timing.timeout,
                    policy: timing.policy,
                    degraded_above: timing.degraded_above,
                    regions: timing.regions.clone().unwrap_or_default(),
                    quorum: timing.quorum,
                    watch,
                    phase: phase.map(|phase| {
                        Duration::from_nanos(
                            (phase.as_nanos() % timing.interval.as_nanos().max(1)) as u64,
                        )
                    }),
                    probe,
                });
            }
        }
    }
    monitors
}

const MONITOR_TYPES: [&str; 10] = [
    "http",
    "tcp",
    "dns",
    "tls",
    "smtp",
    "imap",
    "pop3",
    "mailflow",
    "maildomain",
    "provider",
];

#[derive(Clone, Copy)]
pub(crate) enum Protocol {
    Smtp,
    /// Mail submission by a client (an email channel): port 587 with STARTTLS.
    Submission,
    Imap,
    Pop3,
}

impl Protocol {
    fn default_port(self, tls: TlsMode) -> u16 {
        match (self, tls) {
            (Protocol::Smtp | Protocol::Submission, TlsMode::Implicit) => 465,
            (Protocol::Submission, TlsMode::StartTls) => 587,
            (Protocol::Smtp | Protocol::Submission, _) => 25,
            (Protocol::Imap, TlsMode::Implicit) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, TlsMode::Implicit) => 995,
            (Protocol::Pop3, _) => 110,
        }
    }
}

/// A mail server endpoint: host, port, TLS mode, optional login, certificate checks.
pub(crate) fn read_endpoint(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    protocol: Protocol,
) -> Option<MailEndpoint> {
    let host = read_host(cx, table);
    let port = match table.integer(cx, "port", 1..65_536) {
        Some(port) => Some(port as u16),
        None if table.has("port") => return None,
        None => None,
    };
    let tls = match table.string(cx, "tls") {
        Some((text, span)) => match text.as_str() {
            "none" => Some(TlsMode::None),
            "starttls" => Some(TlsMode::StartTls),
            "implicit" => Some(TlsMode::Implicit),
            other => {
                cx.problems.report(
                    span,
                    format!(
                        "`tls` must be \"none\", \"starttls\" or \"implicit\", found `{other}`"
                    ),
                );
                return None;
            }
        },
        None => None,
    };
    let tls = tls.unwrap_or(match port {
        Some(465 | 993 | 995) => TlsMode::Implicit,
        _ => TlsMode::StartTls,
    });
    let port = port.unwrap_or_else(|| protocol.default_port(tls));
    let username = table.string(cx, "username").map(|(name, _)| name);
    let password = table.string(cx, "password");
    let allow_plaintext = table
        .boolean(cx, "allow_plaintext_password")
        .unwrap_or(false);
    if let (Some((_, span)), TlsMode::None, false) = (&password, tls, allow_plaintext) {
        cx.problems.report(
            span.clone(),
            format!(
                "{} would send its password unencrypted (`tls = \"none\"`); use \"starttls\" or \"implicit\", or set `allow_plaintext_password = true` for a server on a trusted network",
                table.name
            ),
        );
    }
    let password = password.map(|(password, _)| SecretString::from(password));
    if username.is_some() != password.is_some() {
        cx.problems.report(
            table.span.clone(),
            format!(
                "{} needs both `username` and `password`, or neither",
                table.name
            ),
        );
    }
    let verify_tls = table.boolean(cx, "verify_tls").unwrap_or(true);
    let ca_file = read_path(table, cx, "ca_file");
    let warn_days = table.integer(cx, "warn_days", 0..3651).unwrap_or(14) as u32;
    let pin_sha256 = read_pins(cx, table);
    Some(MailEndpoint {
        pin_sha256,
        host: host?,
        port,
        tls,
        username,
        password,
        verify_tls,
        ca_file,
        warn_days,
    })
}

fn read_address(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
    required: bool,
) -> Option<String> {
    let found = if required {
        table.required_string(cx, key)
    } else {
        table.string(cx, key)
    };
    let (address, span) = found?;
    if !is_bare_address(&address) {
        cx.problems.report(
            span,
            format!("`{key}` must be a mail address such as user@example.com, found `{address}`"),
        );
        return None;
    }
    Some(address)
}

/// `local@domain`: no display name, no spaces or angle brackets.
pub(crate) fn is_bare_address(address: &str) -> bool {
    address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && (domain.contains('.') || domain == "localhost")
    }) && !address.contains(['<', '>', ' ', '\r', '\n', '\t'])
}

fn read_helo(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> String {
    table
        .string(cx, "helo")
        .map(|(helo, _)| helo)
        .unwrap_or_else(|| "pharos.localdomain".to_owned())
}

fn read_smtp(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<SmtpSpec> {
    let endpoint = read_endpoint(cx, table, Protocol::Smtp);
    let helo = read_helo(cx, table);
    let mail_from = read_address(cx, table, "mail_from", false);
    let rcpt_to = read_address(cx, table, "rcpt_to", false);
    if rcpt_to.is_some() && mail_from.is_none() && !table.has("mail_from") {
        cx.problems.report(
            table.span.clone(),
            format!("{} sets `rcpt_to` without `mail_from`", table.name),
        );
    }
    Some(SmtpSpec {
        endpoint: endpoint?,
        helo,
        mail_from,
        rcpt_to,
    })
}

fn read_imap(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<ImapSpec> {
    let endpoint = read_endpoint(cx, table, Protocol::Imap);
    let mailbox = table
        .string(cx, "mailbox")
        .map(|(mailbox, _)| mailbox)
        .unwrap_or_else(|| "INBOX".to_owned());
    Some(ImapSpec {
        endpoint: endpoint?,
        mailbox,
    })
}

fn read_mailflow(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
) -> Option<MailflowSpec> {
    let monitor = table.name.clone();
    let degraded_after = table
        .duration(cx, "degraded_after")
        .unwrap_or(Duration::from_secs(30));
    let deliver_within = table
        .duration(cx, "deliver_within")
        .unwrap_or(Duration::from_secs(120));
    if degraded_after >= deliver_within {
        cx.problems.report(
            table.span.clone(),
            format!("`degraded_after` of {monitor} must be shorter than `deliver_within`"),
        );
    }
    let send = match table.table(cx, "send", &format!("[send] of {monitor}")) {
        Some(mut send) => {
            let endpoint = read_endpoint(cx, &mut send, Protocol::Smtp);
            let helo = read_helo(cx, &mut send);
            let from = read_address(cx, &mut send, "from", true);
            let to = read_address(cx, &mut send, "to", true);
            send.finish(cx);
            match (endpoint, from, to) {
                (Some(endpoint), Some(from), Some(to)) => Some((endpoint, helo, from, to)),
                _ => None,
            }
        }
        None => {
            table.missing(cx, "send");
            None
        }
    };
    let receive = match table.table(cx, "receive", &format!("[receive] of {monitor}")) {
        Some(mut receive) => {
            let endpoint = read_endpoint(cx, &mut receive, Protocol::Imap);
            if endpoint
                .as_ref()
                .is_some_and(|endpoint| endpoint.username.is_none())
            {
                receive.missing(cx, "username");
            }
            let mailbox = receive
                .string(cx, "mailbox")
                .map(|(mailbox, _)| mailbox)
                .unwrap_or_else(|| "INBOX".to_owned());
            receive.finish(cx);
            endpoint
                .filter(|endpoint| endpoint.username.is_some())
                .map(|endpoint| (endpoint, mailbox))
        }
        None => {
            table.missing(cx, "receive");
            None
        }
    };
    let (send, helo, from, to) = send?;
    let (receive, mailbox) = receive?;
    Some(MailflowSpec {
        send,
        helo,
        from,
        to,
        receive,
        mailbox,
        degraded_after,
        deliver_within,
    })
}

fn read_maildomain(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
) -> Option<MailDomainSpec> {
    let domain = table
        .required_string(cx, "domain")
        .map(|(domain, _)| domain.trim_end_matches('.').to_ascii_lowercase());
    let resolver = read_resolver(cx, table)?;
    let blocklists = table
        .strings(cx, "blocklists")
        .unwrap_or_default()
        .into_iter()
        .map(|(zone, _)| zone.trim_end_matches('.').to_owned())
        .collect();
    let mx_port = table.integer(cx, "mx_port", 0..65_536).unwrap_or(25) as u16;
    let check_mta_sts = table.boolean(cx, "mta_sts").unwrap_or(true);
    let ca_file = read_path(table, cx, "ca_file");
    Some(MailDomainSpec {
        domain: domain?,
        resolver,
        blocklists,
        mx_port,
        check_mta_sts,
        ca_file,
    })
}

/// An optional `resolver`: outer `None` when it is given but invalid.
fn read_resolver(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
) -> Option<Option<SocketAddr>> {
    match table.string(cx, "resolver") {
        Some((text, span)) => {
            let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
                text.parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, 53))
            });
            if parsed.is_none() {
                cx.problems.report(
                    span,
                    format!(
                        "`resolver` must be an IP address, optionally with a port, found `{text}`"
                    ),
                );
                return None;
            }
            Some(parsed)
        }
        None => Some(None),
    }
}

pub(crate) fn read_url(
    cx: &mut Context<'_, '_>,
    text: &str,
    span: Range<usize>,
    key: &str,
) -> Option<Url> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        Ok(_) => {
            cx.problems.report(
                span,
                format!("`{key}` must be an http:// or https:// URL with a host"),
            );
            None
        }
        Err(error) => {
            cx.problems
                .report(span, format!("`{key}` is not a valid URL: {error}"));
            None
        }
    }
}

pub(crate) fn read_headers(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
) -> Vec<Header> {
    let mut headers = Vec::new();
    for (name, value, span) in table.string_map(cx, "headers") {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            cx.problems.report(
                span,
                format!("header `{name}` is not a valid HTTP header name"),
            );
            continue;
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            cx.problems.report(
                span,
                format!("the value of header `{name}` holds control characters, which HTTP does not allow"),
            );
            continue;
        }
        headers.push(Header {
            name,
            value: SecretString::from(value),
        });
    }
    headers
}

/// `pin_sha256`: one or more base64 SHA-256 hashes of a public key (SPKI), optionally written
/// `sha256//…` as curl does.
fn read_pins(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Vec<[u8; 32]> {
    let mut pins = Vec::new();
    for (text, span) in table.strings(cx, "pin_sha256").unwrap_or_default() {
        let encoded = text.trim().trim_start_matches("sha256//");
        match base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        {
            Some(pin) => pins.push(pin),
            None => cx.problems.report(
                span,
                format!("`pin_sha256` in {} must be the base64 SHA-256 of a public key (44 characters), as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64` prints", table.name),
            ),
        }
    }
    pins
}

fn read_path(
    table: &mut TableReader<'_, '_>,
    cx: &mut Context<'_, '_>,
    key: &'static str,
) -> Option<PathBuf> {
    table.string(cx, key).map(|(path, _)| PathBuf::from(path))
}

fn read_http(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<HttpSpec> {
    // Query parameters written as `${NAME}` hold secrets (API keys): never shown.
    let secret_query_keys: Vec<String> = table
        .value("url")
        .and_then(|value| value.get_ref().as_str())
        .and_then(|raw| raw.split_once('?').map(|(_, query)| query.to_owned()))
        .map(|query| {
            query
                .split(['&', '#'])
                .filter_map(|pair| pair.split_once('='))
                .filter(|(_, value)| value.contains("${"))
                .map(|(key, _)| key.to_owned())
                .collect()
        })
        .unwrap_or_default();
    let url = match table.required_string(cx, "url") {
        Some((text, span)) => read_url(cx, &text, span, "url"),
        None => None,
    };
    let method = match table.string(cx, "method") {
        Some((method, span)) => {
            let method = method.to_ascii_uppercase();
            if !method.bytes().all(|b| b.is_ascii_uppercase()) || method.is_empty() {
                cx.problems
                    .report(span, format!("`method` `{method}` is not an HTTP method"));
            }
            method
        }
        None => "GET".to_owned(),
    };
    let headers = read_headers(cx, table);
    let body = table.string(cx, "body").map(|(body, _)| body);
    let mut accept_status = Vec::new();
    for (text, span) in table.scalars(cx, "accept_status").unwrap_or_default() {
        match parse_status_range(&text) {
            Some(range) => accept_status.push(range),
            None => cx.problems.report(span, format!("`accept_status` entry `{text}` must be a status (200), a class (\"2xx\") or a range (\"200-299\")")),
        }
    }
    if accept_status.is_empty() {
        accept_status.push(StatusRange {
            low: 200,
            high: 299,
        });
    }
    let body_contains = table.string(cx, "body_contains").map(|(text, _)| text);
    let body_regex = table.string(cx, "body_regex").and_then(|(pattern, span)| {
        match regex::Regex::new(&pattern) {
            Ok(regex) => Some(regex),
            Err(error) => {
                cx.problems.report(
                    span,
                    format!(
                        "`body_regex` is not a valid regular expression: {}",
                        error.to_string().lines().last().unwrap_or("")
                    ),
                );
                None
            }
        }
    });
    let follow_redirects = table.boolean(cx, "follow_redirects").unwrap_or(true);
    let max_redirects = table.integer(cx, "max_redirects", 0..31).unwrap_or(5) as u32;
    let verify_tls = table.boolean(cx, "verify_tls").unwrap_or(true);
    let ca_file = read_path(table, cx, "ca_file");
    let pin_sha256 = read_pins(cx, table);
    Some(HttpSpec {
        url: url?,
        secret_query_keys,
        pin_sha256,
        method,
        headers,
        body,
        accept_status,
        body_contains,
        body_regex,
        follow_redirects,
        max_redirects,
        verify_tls,
        ca_file,
    })
}

fn parse_status_range(text: &str) -> Option<StatusRange> {
    let text = text.trim();
    if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
        let class: u16 = class.parse().ok().filter(|class| (1..=5).contains(class))?;
        return Some(StatusRange {
            low: class * 100,
            high: class * 100 + 99,
        });
    }
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.trim().parse().ok()?, high.trim().parse().ok()?),
        None => {
            let status = text.parse().ok()?;
            (status, status)
        }
    };
    ((100..=599).contains(&low) && (low..=599).contains(&high)).then_some(StatusRange { low, high })
}

fn read_host(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<String> {
    let (host, span) = table.required_string(cx, "host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() || host.contains(['/', ' ', ':']) && host.parse::<IpAddr>().is_err() {
        cx.problems.report(
            span,
            format!("`host` `{host}` must be a host name or IP address, without a port or scheme"),
        );
        return None;
    }
    Some(host)
}

fn read_port(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    default: Option<u16>,
) -> Option<u16> {
    match table.integer(cx, "port", 1..65_536) {
        Some(port) => Some(port as u16),
        None if table.has("port") => None,
        None => {
            if default.is_none() {
                table.missing(cx, "port");
            }
            default
        }
    }
}

fn read_tcp(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<TcpSpec> {
    let host = read_host(cx, table);
    let port = read_port(cx, table, None);
    let send = table.string(cx, "send").map(|(text, _)| text);
    let expect = table.string(cx, "expect").map(|(text, _)| text);
    Some(TcpSpec {
        host: host?,
        port: port?,
        send,
        expect,
    })
}

fn read_dns(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<DnsSpec> {
    let name = table.required_string(cx, "query").map(|(name, _)| name);
    let record = match table.string(cx, "record") {
        Some((text, span)) => {
            let found = RecordKind::ALL
                .into_iter()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(&text));
            if found.is_none() {
                cx.problems.report(
                    span,
                    format!("unknown DNS record type `{text}`; known: A, AAAA, MX, TXT, CNAME, NS"),
                );
            }
            found
        }
        None => Some(RecordKind::A),
    };
    let resolver = read_resolver(cx, table)?;
    let expect = table
        .strings(cx, "expect")
        .unwrap_or_default()
        .into_iter()
        .map(|(text, _)| text)
        .collect();
    Some(DnsSpec {
        name: name?,
        record: record?,
        resolver,
        expect,
    })
}

fn read_tls(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<TlsSpec> {
    let host = read_host(cx, table);
    let port = read_port(cx, table, Some(443));
    let server_name = table.string(cx, "server_name").map(|(name, _)| name);
    let warn_days = table.integer(cx, "warn_days", 0..3651).unwrap_or(14) as u32;
    let ca_file = read_path(table, cx, "ca_file");
    let pin_sha256 = read_pins(cx, table);
    Some(TlsSpec {
        pin_sha256,
        host: host?,
        port: port?,
        server_name,
        warn_days,
        ca_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges_parse_in_every_spelling() {
        assert_eq!(
            parse_status_range("200"),
            Some(StatusRange {
                low: 200,
                high: 200
            })
        );
        assert_eq!(
            parse_status_range("3xx"),
            Some(StatusRange {
                low: 300,
                high: 399
            })
        );
        assert_eq!(
            parse_status_range("200-204"),
            Some(StatusRange {
                low: 200,
                high: 204
            })
        );
        assert_eq!(parse_status_range("204-200"), None);
        assert_eq!(parse_status_range("7xx"), None);
        assert_eq!(parse_status_range("abc"), None);
    }
}
