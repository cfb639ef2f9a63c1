//! Configuration validation: the example is valid, and a broken file lists every problem.

use pharos_config::{parse, ProbeSpec};

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
            "t.toml:1:1: `timeout` in [defaults] must be above zero and no longer than `interval`"
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
