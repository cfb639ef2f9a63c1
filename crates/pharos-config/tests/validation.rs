//! Configuration validation: the example is valid, and a broken file lists every problem.

use pharos_config::{parse, ProbeSpec};
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    match name {
        "PHAROS_ADMIN_TOKEN" => Some("an-admin-token-long-enough".into()),
        "PHAROS_WEBHOOK_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        _ => None,
    }
}

#[test]
fn the_example_configuration_is_valid() {
    let config = parse("example.toml", pharos_config::EXAMPLE, &env)
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.components.len(), 3);
    assert_eq!(config.monitors.len(), 4);
    assert!(matches!(config.monitors[3].probe, ProbeSpec::Dns(_)));
    assert_eq!(config.channels.len(), 1);
    assert_eq!(config.monitors[0].policy.failures_to_confirm, 2);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = parse("example.toml", pharos_config::EXAMPLE, &env).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("an-admin-token-long-enough"), "{debug}");
    assert!(
        !debug.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "{debug}"
    );
}

#[test]
fn every_problem_is_listed_with_line_and_column() {
    let source = r#"[server]
listen = "not an address"

[[components]]
id = "mail"
name = "Mail"

[[components]]
id = "mail"
name = "Mail again"

[[monitors]]
id = "smtp"
component = "mial"
type = "tcp"
host = "smtp.example.com"
port = 70000
intervall = "30s"

[[monitors]]
id = "web"
component = "mail"
type = "http"
url = "ftp://example.com"
interval = "soon"

[[monitors]]
id = "Bad Id"
component = "mail"
type = "carrier-pigeon"

[[channels]]
id = "hook"
type = "webhook"
url = "https://hooks.example.com"
secret = "${MISSING_SECRET}"
events = ["incident.exploded"]
"#;
    let errors = parse("bad.toml", source, &env).unwrap_err();
    let listed: Vec<String> = errors
        .problems
        .iter()
        .map(|problem| problem.to_string())
        .collect();
    let expected = [
        "bad.toml:2:10: `listen` must be an address and port such as \"127.0.0.1:8080\", found `not an address`",
        "bad.toml:9:6: duplicate component id `mail`",
        "bad.toml:14:13: monitor `smtp` refers to unknown component `mial`",
        "bad.toml:17:8: `port` in monitor `smtp` must be from 1 to 65535",
        "bad.toml:18:1: unknown key `intervall` in monitor `smtp`; did you mean `interval`?",
        "bad.toml:24:7: `url` must be an http:// or https:// URL with a host",
        "bad.toml:25:12: `interval` in monitor `web`: `soon` is not a duration",
        "bad.toml:28:6: monitor id `Bad Id` must be 1 to 64 lower-case letters, digits, `-` or `_`",
        "bad.toml:30:8: unknown monitor type `carrier-pigeon`; known: http, tcp, dns, tls",
        "bad.toml:36:10: environment variable `MISSING_SECRET` is not set",
        "bad.toml:37:11: unknown event `incident.exploded`",
    ];
    for want in expected {
        assert!(
            listed.iter().any(|line| line.starts_with(want)),
            "missing {want:?} in:\n{}",
            listed.join("\n")
        );
    }
    assert_eq!(
        listed.len(),
        expected.len(),
        "unexpected extra problems:\n{}",
        listed.join("\n")
    );
}

#[test]
fn a_syntax_error_is_located_and_other_problems_still_reported() {
    let source = "[server]\nlisten = \"127.0.0.1:8080\"\nbroken = \n\n[page]\ntitel = \"x\"\n";
    let errors = parse("syntax.toml", source, &env).unwrap_err();
    let text = errors.to_string();
    assert!(text.contains("syntax.toml:3:"), "{text}");
    assert!(
        text.contains("syntax.toml:6:1: unknown key `titel` in [page]; did you mean `title`?"),
        "{text}"
    );
}

#[test]
fn a_timeout_longer_than_the_interval_is_refused() {
    let source = "[defaults]\ninterval = \"5s\"\ntimeout = \"10s\"\n";
    let errors = parse("t.toml", source, &env).unwrap_err();
    assert!(
        errors.to_string().contains(
            "t.toml:3:11: `timeout` in [defaults] must be above zero and no longer than `interval`"
        ),
        "{errors}"
    );
}

#[test]
fn the_email_example_is_valid() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/email-status.toml"
    ))
    .unwrap();
    let env = |name: &str| (name == "PHAROS_MAIL_PASSWORD").then(|| "secret".to_owned());
    let config =
        parse("email-status.toml", &source, &env).unwrap_or_else(|errors| panic!("{errors}"));
    let kinds: Vec<&str> = config
        .monitors
        .iter()
        .map(|monitor| monitor.probe.kind())
        .collect();
    for kind in ["smtp", "imap", "pop3", "mailflow", "http", "maildomain"] {
        assert!(kinds.contains(&kind), "the example has no {kind} monitor");
    }
    let flow = config
        .monitors
        .iter()
        .find(|monitor| monitor.probe.kind() == "mailflow")
        .unwrap();
    assert_eq!(
        flow.timeout,
        std::time::Duration::from_secs(150),
        "deliver_within + 30s"
    );
    assert_eq!(flow.interval, std::time::Duration::from_secs(300));
}

#[test]
fn the_update_reminder_interval_is_read_and_checked() {
    let config = parse("i.toml", "[incidents]\nupdate_every = \"45m\"\n", &env).unwrap();
    assert_eq!(
        config.incidents.update_every,
        std::time::Duration::from_secs(45 * 60)
    );
    assert_eq!(
        parse("d.toml", "", &env).unwrap().incidents.update_every,
        std::time::Duration::from_secs(30 * 60)
    );
    let errors = parse("i.toml", "[incidents]\nupdate_every = \"10s\"\n", &env).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "i.toml:1:1: `update_every` in [incidents] must be at least 1m"
    );
}

/// One minimal monitor of every type, for checks that must hold for all of them.
const EVERY_TYPE: &str = r#"
[[components]]
id = "all"
name = "All"

[[monitors]]
id = "http"
component = "all"
type = "http"
url = "https://example.test/"

[[monitors]]
id = "tcp"
component = "all"
type = "tcp"
host = "example.test"
port = 25

[[monitors]]
id = "dns"
component = "all"
type = "dns"
query = "example.test"

[[monitors]]
id = "tls"
component = "all"
type = "tls"
host = "example.test"
port = 465

[[monitors]]
id = "smtp"
component = "all"
type = "smtp"
host = "example.test"
port = 25

[[monitors]]
id = "imap"
component = "all"
type = "imap"
host = "example.test"
port = 993
tls = "implicit"

[[monitors]]
id = "pop3"
component = "all"
type = "pop3"
host = "example.test"
port = 995
tls = "implicit"

[[monitors]]
id = "mailflow"
component = "all"
type = "mailflow"
deliver_within = "20s"
degraded_after = "5s"

[monitors.send]
host = "example.test"
port = 25
tls = "none"
from = "probe@example.test"
to = "probe@example.test"

[monitors.receive]
host = "example.test"
port = 993
tls = "implicit"
username = "probe@example.test"
password = "secret"

[[monitors]]
id = "maildomain"
component = "all"
type = "maildomain"
domain = "example.test"
"#;

#[test]
fn every_defaults_key_reaches_every_probe_type() {
    let source = format!(
        "[defaults]\ninterval = \"45s\"\ntimeout = \"40s\"\nfailures_to_confirm = 3\n\
         successes_to_recover = 4\nconfirm_delay = \"2s\"\ndegraded_above = \"900ms\"\n{EVERY_TYPE}"
    );
    let config = parse("d.toml", &source, &env).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.monitors.len(), 9, "one monitor of every type");
    for monitor in &config.monitors {
        let id = monitor.id.as_str();
        assert_eq!(monitor.interval, Duration::from_secs(45), "{id}");
        assert_eq!(monitor.timeout, Duration::from_secs(40), "{id}");
        assert_eq!(monitor.policy.failures_to_confirm, 3, "{id}");
        assert_eq!(monitor.policy.successes_to_recover, 4, "{id}");
        assert_eq!(monitor.policy.confirm_delay, Duration::from_secs(2), "{id}");
        assert_eq!(
            monitor.degraded_above,
            Some(Duration::from_millis(900)),
            "{id}"
        );
    }
}

#[test]
fn a_bad_value_in_defaults_is_reported_once_at_the_value() {
    let source = format!("[defaults]\ninterval = \"500ms\"\n{EVERY_TYPE}");
    let errors = parse("d.toml", &source, &env).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "d.toml:2:12: `interval` in [defaults] must be at least 1s and at most 7 days"
    );
}

#[test]
fn a_short_mail_flow_interval_says_what_it_needs() {
    let source = r#"
[[components]]
id = "mail"
name = "Mail"

[[monitors]]
id = "flow"
component = "mail"
type = "mailflow"
interval = "1m"

[monitors.send]
host = "example.test"
port = 25
tls = "none"
from = "probe@example.test"
to = "probe@example.test"

[monitors.receive]
host = "example.test"
port = 993
tls = "implicit"
username = "probe@example.test"
password = "secret"
"#;
    let errors = parse("f.toml", source, &env).unwrap_err().to_string();
    assert!(
        errors.contains("waits up to `deliver_within` (2m) for delivery")
            && errors.contains("set `interval` to 2m 30s or more"),
        "{errors}"
    );
    let shorter = source.replace(
        "interval = \"1m\"",
        "interval = \"1m\"\ndeliver_within = \"40s\"",
    );
    let config = parse("f.toml", &shorter, &env).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.monitors[0].timeout, Duration::from_secs(60));
}

/// Before: a header value with a control character was dropped silently when sending.
#[test]
fn a_header_value_with_control_characters_is_a_config_error() {
    let source = "[[components]]\nid = \"c\"\nname = \"C\"\n\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\ntype = \"http\"\n\
                  url = \"https://example.test/\"\nheaders = { X-Token = \"abc\\u0007def\" }\n";
    let errors = parse("h.toml", source, &env).unwrap_err().to_string();
    assert!(
        errors.contains("h.toml:10:") && errors.contains("holds control characters"),
        "{errors}"
    );
}

/// Before: durations were unbounded, so scheduler and retention maths could overflow.
#[test]
fn durations_and_retentions_are_bounded() {
    let errors = parse(
        "b.toml",
        "[defaults]\ninterval = \"30d\"\ntimeout = \"1000000000000s\"\n",
        &env,
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains(
            "b.toml:2:12: `interval` in [defaults] must be at least 1s and at most 7 days"
        ),
        "{errors}"
    );
    assert!(
        errors.contains(
            "b.toml:3:11: `timeout` in [defaults]: `1000000000000s` is longer than 10 years"
        ),
        "{errors}"
    );
    let errors = parse("r.toml", "[retention]\nraw_results = \"2y\"\n", &env)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("at most 366 days"), "{errors}");
}

/// Before: control characters in texts shown on pages and in feeds were accepted.
#[test]
fn control_characters_in_texts_are_refused() {
    let source = "[page]\ntitle = \"Status\\u0001\"\n\n[[components]]\nid = \"c\"\nname = \"Mail\\u001b[31m\"\n";
    let errors = parse("t.toml", source, &env).unwrap_err().to_string();
    assert!(
        errors.contains("t.toml:2:9: `title` in [page] holds control characters"),
        "{errors}"
    );
    assert!(
        errors.contains("t.toml:6:8: `name` in component `c` holds control characters"),
        "{errors}"
    );
    let fine = "[page]\ntitle = \"Status\"\ndescription = \"Line one\\nline\\ttwo\"\n";
    assert!(parse("t.toml", fine, &env).is_ok());
}

/// Before: `pharos check` printed URL passwords and API keys from the environment.
#[test]
fn shown_urls_hide_passwords_and_query_values_from_the_environment() {
    let source = "[[components]]\nid = \"c\"\nname = \"C\"\n\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\ntype = \"http\"\n\
                  url = \"https://probe:hunter2@api.example.test/health?key=${PHAROS_TEST_KEY}&page=1\"\n";
    let lookup = |name: &str| (name == "PHAROS_TEST_KEY").then(|| "abc123secret".to_owned());
    let config = parse("u.toml", source, &lookup).unwrap();
    let shown = config.monitors[0].probe.target();
    assert_eq!(
        shown,
        "https://probe:[redacted]@api.example.test/health?key=[redacted]&page=1"
    );
}

#[test]
fn channel_problems_are_each_reported_at_their_value() {
    let source = r##"[[components]]
id = "mail"
name = "Mail"

[[channels]]
id = "chat"
type = "slak"

[[channels]]
id = "phone"
type = "sms"
account_sid = "AC1"
auth_token = "secret-token"
from = "5550100"
to = "+14155550100"
depends_on = ["mial"]

[[channels]]
id = "bot"
type = "telegram"
bot_token = "123:abc"
chat_id = "general"

[[channels]]
id = "room"
type = "matrix"
homeserver = "https://matrix.example.org"
room_id = "#ops:example.org"
"##;
    let errors = parse("c.toml", source, &|_| None).unwrap_err().to_string();
    for expected in [
        "c.toml:7:8: unknown channel type `slak`; known: webhook, slack, discord",
        "c.toml:14:8: `from` in channel `phone` must be a phone number in E.164 form",
        "c.toml:16:15: `depends_on` of channel `phone` refers to unknown component `mial`",
        "c.toml:22:11: `chat_id` in channel `bot` must be a chat's number",
        "c.toml:28:11: `room_id` in channel `room` must be a room id",
        "channel `room` is missing `access_token`",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
}

#[test]
fn paging_and_text_channels_default_to_incident_events() {
    let source = r#"[[channels]]
id = "pager"
type = "pagerduty"
routing_key = "R0123456789abcdef0123456789abcde"

[[channels]]
id = "chat"
type = "ntfy"
topic = "alerts"
"#;
    let config = parse("c.toml", source, &|_| None).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.channels[0].events.len(), 3);
    assert_eq!(
        config.channels[1].events.len(),
        pharos_core::EventKind::ALL.len()
    );
    assert!(!format!("{:?}", config.channels).contains("R0123456789abcdef"));
}

/// The channel and route examples of the README are a valid configuration together.
#[test]
fn the_readme_channel_examples_are_valid() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("### `[[channels]]`")
        .expect("the channels section");
    let end = readme[start..]
        .find("\n## ")
        .map_or(readme.len(), |end| start + end);
    let mut source = String::new();
    let mut inside = false;
    for line in readme[start..end].lines() {
        match (inside, line.trim_start()) {
            (false, "```toml") => inside = true,
            (true, "```") => inside = false,
            (true, _) => {
                source.push_str(line);
                source.push('\n');
            }
            _ => {}
        }
    }
    assert!(source.contains("[[routes]]"), "{source}");
    let env = |name: &str| {
        Some(if name == "PHAROS_WEBHOOK_SECRET" {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()
        } else if name.ends_with("_URL") {
            "https://hooks.example.test/services/secret".to_owned()
        } else {
            "a-token-value".to_owned()
        })
    };
    let config = parse("README.md", &source, &env).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.channels.len(), 16);
    assert_eq!(config.routes.len(), 2);
    assert_eq!(config.routes[0].chain, ["ops-email", "sms", "pagerduty"]);
}

#[test]
fn route_problems_are_each_reported_at_their_value() {
    let source = r#"[[components]]
id = "mail"
name = "Mail"
group = "Email"

[[channels]]
id = "chat"
type = "ntfy"
topic = "ops"

[[routes]]
chain = ["chat", "pager", "chat"]
groups = ["Emial"]
min_impact = "operational"

[[routes]]
groups = ["Email"]
"#;
    let errors = parse("c.toml", source, &|_| None).unwrap_err().to_string();
    for expected in [
        "c.toml:12:18: route chain names unknown channel `pager`",
        "c.toml:12:27: route chain names channel `chat` twice",
        "c.toml:13:11: no component is in group `Emial`",
        "c.toml:14:14: `min_impact` must be degraded_performance, partial_outage or major_outage",
        "is missing `chain`",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
}

#[test]
fn dependency_problems_are_each_reported_where_written() {
    let source = r#"[[components]]
id = "network"
name = "Network"
depends_on = ["mail"]

[[components]]
id = "mail"
name = "Mail"
depends_on = ["network", "mail", "dns"]

[[components]]
id = "webmail"
name = "Webmail"
depends_on = ["mail"]
"#;
    let errors = parse("d.toml", source, &|_| None).unwrap_err().to_string();
    for expected in [
        "d.toml:9:26: component `mail` cannot depend on itself",
        "d.toml:9:34: `depends_on` of component `mail` refers to unknown component `dns`",
        "d.toml:9:15: `depends_on` makes a cycle: network → mail → network",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
    assert_eq!(errors.matches("cycle").count(), 1, "{errors}");

    let acyclic = source
        .replace(
            "depends_on = [\"mail\"]\n\n[[components]]\nid = \"mail\"",
            "\n[[components]]\nid = \"mail\"",
        )
        .replace(", \"mail\", \"dns\"", "");
    let config = parse("d.toml", &acyclic, &|_| None).unwrap();
    let depends: Vec<Vec<&str>> = config
        .components
        .iter()
        .map(|component| component.depends_on.iter().map(|id| id.as_str()).collect())
        .collect();
    assert_eq!(depends, [vec![], vec!["network"], vec!["mail"]]);
}

#[test]
fn the_readme_provider_examples_are_valid_and_keep_the_secret() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("### Provider components")
        .expect("the provider components section");
    let block = &readme[start..];
    let block = &block[block.find("```toml\n").unwrap() + 8..];
    let source = &block[..block.find("```").unwrap()];
    let env =
        |name: &str| (name == "M365_CLIENT_SECRET").then(|| "Xq8~client-secret-value".to_owned());
    let config = parse("README.md", source, &env).unwrap_or_else(|errors| panic!("{errors}"));
    let kinds: Vec<&str> = config
        .monitors
        .iter()
        .filter_map(|monitor| match &monitor.probe {
            ProbeSpec::Provider(spec) => Some(spec.kind()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["microsoft365", "google_workspace", "statuspage"]);
    let provider = &config.monitors[0];
    assert_eq!(provider.interval, Duration::from_secs(120));
    assert_eq!(provider.policy.failures_to_confirm, 1);
    let debug = format!("{config:?}");
    assert!(!debug.contains("Xq8~client-secret-value"), "{debug}");
    assert_eq!(config.components[1].depends_on[0].as_str(), "exchange");
}

#[test]
fn provider_problems_are_each_reported_at_their_place() {
    let source = r#"[[components]]
id = "mail"
name = "Mail"

[[monitors]]
id = "a"
component = "mail"
type = "provider"
provider = "statuspages"

[[monitors]]
id = "b"
component = "mail"
type = "provider"
provider = "google_workspace"

[[monitors]]
id = "c"
component = "mail"
type = "provider"
provider = "microsoft365"
tenant_id = ""
client_id = "x"
client_secret = "${UNSET_SECRET}"
service = "Exchange Online"

[[monitors]]
id = "d"
component = "mail"
type = "provider"
provider = "statuspage"
url = "not a url"
"#;
    let errors = parse("p.toml", source, &|_| None).unwrap_err().to_string();
    for expected in [
        "p.toml:9:12: unknown provider `statuspages`; known: statuspage, google_workspace, microsoft365",
        "needs `products`, e.g. [\"Gmail\"]",
        "p.toml:22:13: `tenant_id`",
        "p.toml:24:17:",
        "UNSET_SECRET",
        "p.toml:32:7:",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
}

#[test]
fn maintenance_windows_are_read_and_their_problems_located() {
    let source = r#"[[components]]
id = "mail"
name = "Mail"

[[maintenance]]
id = "weekly-patch"
title = "Weekly patching"
components = ["mail"]
start = "2027-01-09T22:00:00Z"
duration = "2h"
every = "7d"
message = "Mail may be slow for a few minutes."

[[maintenance]]
id = "move"
title = "Data centre move"
components = ["mail"]
start = "2027-02-01T20:00:00+01:00"
end = "2027-02-02T02:00:00+01:00"
"#;
    let config = parse("m.toml", source, &|_| None).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.maintenance.len(), 2);
    let weekly = &config.maintenance[0];
    assert_eq!(weekly.length, chrono::Duration::hours(2));
    assert_eq!(weekly.every, Some(chrono::Duration::days(7)));
    assert_eq!(weekly.start.to_rfc3339(), "2027-01-09T22:00:00+00:00");
    let moving = &config.maintenance[1];
    assert_eq!(moving.start.to_rfc3339(), "2027-02-01T19:00:00+00:00");
    assert_eq!(moving.length, chrono::Duration::hours(6));

    let broken = r#"[[components]]
id = "mail"
name = "Mail"

[[maintenance]]
id = "a"
title = "A"
components = ["mial"]
start = "next friday"
duration = "2h"

[[maintenance]]
id = "b"
title = "B"
components = ["mail"]
start = "2027-01-09T22:00:00Z"
end = "2027-01-09T21:00:00Z"

[[maintenance]]
id = "c"
title = "C"
components = ["mail"]
start = "2027-01-09T22:00:00Z"
duration = "3h"
every = "1h"

[[maintenance]]
id = "d"
title = "D"
components = ["mail"]
start = "2027-01-09T22:00:00Z"
"#;
    let errors = parse("m.toml", broken, &|_| None).unwrap_err().to_string();
    for expected in [
        "m.toml:8:15: no component has the id `mial`",
        "m.toml:9:9: `start` must be a time such as",
        "m.toml:17:7: `end` must come after `start`",
        "`every` must be at least as long as the window itself",
        "is missing `duration`",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
}

#[test]
fn regions_and_quorum_come_from_defaults_or_the_monitor() {
    let source = r#"
[server]
region = "hq"

[defaults]
regions = ["hq", "eu-west", "us-east"]

[[components]]
id = "web"
name = "Web"

[[monitors]]
id = "inherits"
component = "web"
type = "tcp"
host = "example.test"
port = 443

[[monitors]]
id = "own"
component = "web"
type = "tcp"
host = "example.test"
port = 443
regions = ["eu-west", "us-east"]
quorum = 1

[[monitors]]
id = "all"
component = "web"
type = "tcp"
host = "example.test"
port = 443
quorum = "all"
"#;
    let config = parse("r.toml", source, &env).unwrap_or_else(|errors| panic!("{errors}"));
    use pharos_core::regions::Quorum;
    assert_eq!(config.server.region, "hq");
    assert_eq!(
        config.monitors[0].regions("hq"),
        ["hq", "eu-west", "us-east"]
    );
    assert_eq!(config.monitors[0].quorum, Quorum::Majority);
    assert_eq!(config.monitors[1].regions("hq"), ["eu-west", "us-east"]);
    assert_eq!(config.monitors[1].quorum, Quorum::AtLeast(1));
    assert_eq!(config.monitors[2].quorum, Quorum::All);
}

#[test]
fn a_monitor_without_regions_is_checked_by_the_server_alone() {
    let config = parse("example.toml", pharos_config::EXAMPLE, &env).unwrap();
    assert_eq!(config.server.region, "local");
    assert_eq!(config.monitors[0].regions(&config.server.region), ["local"]);
}

#[test]
fn bad_regions_and_quorums_are_reported_at_their_values() {
    let source = r#"[server]
region = "EU West"

[[components]]
id = "web"
name = "Web"

[[monitors]]
id = "a"
component = "web"
type = "tcp"
host = "example.test"
port = 443
regions = ["eu", "eu", "Bad Name"]
quorum = "most"

[[monitors]]
id = "b"
component = "web"
type = "tcp"
host = "example.test"
port = 443
regions = []
quorum = 0
"#;
    let errors = parse("r.toml", source, &env).unwrap_err().to_string();
    for expected in [
        "r.toml:2:10: `region` `EU West` must be",
        "r.toml:14:18: region `eu` is listed twice",
        "r.toml:14:24: region `Bad Name` must be",
        "r.toml:15:10: `quorum` in monitor `a` must be \"any\", \"all\", \"majority\" or a number of regions, found `most`",
        "r.toml:23:11: `regions` in monitor `b` names no region",
        "r.toml:24:10: `quorum` in monitor `b` must be from 1 to 1000",
    ] {
        assert!(errors.contains(expected), "missing {expected:?} in:\n{errors}");
    }
}

#[test]
fn a_watch_is_refused_where_no_connection_can_be_held() {
    let source = r#"
[[components]]
id = "web"
name = "Web"

[[monitors]]
id = "dns"
component = "web"
type = "dns"
query = "example.test"
watch = true

[[monitors]]
id = "tcp"
component = "web"
type = "tcp"
host = "example.test"
port = 25
watch = true
"#;
    let errors = parse("w.toml", source, &env).unwrap_err().to_string();
    assert!(
        errors.contains("w.toml:11:9: `watch` in monitor `dns` holds a connection open, which tcp, http, smtp and imap monitors can do; not dns"),
        "{errors}"
    );
    assert_eq!(errors.matches("`watch`").count(), 1, "{errors}");
}
