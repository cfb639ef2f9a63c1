//! What each region's probe agents check: a configuration document of its own, holding the
//! monitors assigned to the region (with `[defaults]`) and the components they belong to.
//! It is cut from the server's file with every `${NAME}` already resolved on the server, so
//! secrets live in one place, and the agent validates it with the same rules as the server.

use crate::reader::EnvLookup;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use toml::{Table, Value};

/// The document of each region other than the server's own.
#[derive(Clone, Debug, Default)]
pub struct Assignments {
    by_region: BTreeMap<String, Assignment>,
}

/// One region's document, and a generation that changes whenever it does.
#[derive(Clone, PartialEq, Eq)]
pub struct Assignment {
    pub generation: String,
    pub document: String,
}

impl std::fmt::Debug for Assignment {
    /// The document holds secrets (resolved `${NAME}`s): never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assignment")
            .field("generation", &self.generation)
            .field("document", &"[redacted]")
            .finish()
    }
}

impl Assignments {
    /// What `region` checks: an empty document (no monitors) for a region nothing names.
    pub fn for_region(&self, region: &str) -> Assignment {
        self.by_region
            .get(region)
            .cloned()
            .unwrap_or_else(|| Assignment::of(String::new()))
    }

    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.by_region.keys().map(String::as_str)
    }
}

impl Assignment {
    fn of(document: String) -> Self {
        let digest = Sha256::digest(document.as_bytes());
        let generation = digest[..12]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            generation,
            document,
        }
    }
}

/// Keys of a monitor (or `[defaults]`) that concern the server's placement, not the check.
const PLACEMENT_KEYS: [&str; 2] = ["regions", "quorum"];

/// Cuts one document per region out of a valid configuration's source.
pub(crate) fn build(
    source: &str,
    env: EnvLookup<'_>,
    home: &str,
    validated: &[crate::Monitor],
) -> Assignments {
    let Ok(mut root) = toml::from_str::<Table>(source) else {
        return Assignments::default();
    };
    expand_table(&mut root, env);
    let mut defaults = root
        .get("defaults")
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default();
    let default_regions = regions_of(&defaults);
    for key in PLACEMENT_KEYS {
        defaults.remove(key);
    }
    let components: Vec<&Table> = array_of_tables(&root, "components");
    let mut by_region: BTreeMap<String, (Vec<Table>, Vec<String>)> = BTreeMap::new();
    for monitor in array_of_tables(&root, "monitors") {
        let regions = regions_of(monitor)
            .or_else(|| default_regions.clone())
            .unwrap_or_else(|| vec![home.to_owned()]);
        let mut check = monitor.clone();
        for key in PLACEMENT_KEYS {
            check.remove(key);
        }
        let component = monitor
            .get("component")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let valid = monitor
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| validated.iter().find(|known| known.id.as_str() == id));
        let count = regions.len();
        for (slot, region) in regions.into_iter().enumerate() {
            if region == home {
                continue;
            }
            let mut check = check.clone();
            if let Some(valid) = valid {
                // The regions take turns: each runs it at its own point of the interval.
                let phase = valid.region_phase(slot, count);
                check.insert(
                    "phase".into(),
                    Value::String(format!("{}ms", phase.as_millis())),
                );
            }
            let (monitors, needed) = by_region.entry(region).or_default();
            monitors.push(check);
            if !needed.contains(&component) {
                needed.push(component.clone());
            }
        }
    }
    let by_region = by_region
        .into_iter()
        .map(|(region, (monitors, needed))| {
            let mut document = Table::new();
            let mut server = Table::new();
            server.insert("region".into(), Value::String(region.clone()));
            document.insert("server".into(), Value::Table(server));
            if !defaults.is_empty() {
                document.insert("defaults".into(), Value::Table(defaults.clone()));
            }
            let components = components
                .iter()
                .filter(|component| {
                    component
                        .get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| needed.iter().any(|needed| needed == id))
                })
                .map(|component| {
                    // Only what identifies it: its dependencies and texts stay on the server.
                    let mut kept = Table::new();
                    for key in ["id", "name"] {
                        if let Some(value) = component.get(key) {
                            kept.insert(key.into(), value.clone());
                        }
                    }
                    Value::Table(kept)
                })
                .collect();
            document.insert("components".into(), Value::Array(components));
            document.insert(
                "monitors".into(),
                Value::Array(monitors.into_iter().map(Value::Table).collect()),
            );
            let text = toml::to_string(&document).unwrap_or_default();
            (region, Assignment::of(text))
        })
        .collect();
    Assignments { by_region }
}

fn array_of_tables<'t>(root: &'t Table, key: &str) -> Vec<&'t Table> {
    root.get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_table).collect())
        .unwrap_or_default()
}

fn regions_of(table: &Table) -> Option<Vec<String>> {
    match table.get("regions")? {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

/// Resolves every `${NAME}` the lookup knows; others stay as written.
fn expand_table(table: &mut Table, env: EnvLookup<'_>) {
    for (_, value) in table.iter_mut() {
        expand_value(value, env);
    }
}

fn expand_value(value: &mut Value, env: EnvLookup<'_>) {
    match value {
        Value::String(text) if text.contains("${") => *text = expand(text, env),
        Value::Array(items) => items.iter_mut().for_each(|item| expand_value(item, env)),
        Value::Table(table) => expand_table(table, env),
        _ => {}
    }
}

fn expand(text: &str, env: EnvLookup<'_>) -> String {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        expanded.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            expanded.push_str(&rest[start..]);
            return expanded;
        };
        let name = &after[..end];
        match env(name) {
            Some(value) => expanded.push_str(&value),
            None => expanded.push_str(&rest[start..start + end + 3]),
        }
        rest = &after[end + 1..];
    }
    expanded.push_str(rest);
    expanded
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
[server]
admin_token = "${ADMIN}"

[defaults]
interval = "20s"
regions = ["local", "eu-west"]

[[components]]
id = "mail"
name = "Mail"
depends_on = ["dns"]

[[components]]
id = "dns"
name = "DNS"

[[monitors]]
id = "imap"
component = "mail"
type = "imap"
host = "mail.example.test"
username = "probe"
password = "${IMAP_PASSWORD}"

[[monitors]]
id = "resolver"
component = "dns"
type = "dns"
query = "example.test"
regions = ["local"]

[[monitors]]
id = "web"
component = "mail"
type = "http"
url = "https://example.test/"
regions = ["us-east"]
quorum = "any"
"#;

    fn env(name: &str) -> Option<String> {
        (name == "IMAP_PASSWORD").then(|| "s3cret".to_owned())
    }

    #[test]
    fn each_region_gets_its_monitors_their_components_and_resolved_secrets() {
        let assignments = build(SOURCE, &env, "local", &[]);
        assert_eq!(
            assignments.regions().collect::<Vec<_>>(),
            ["eu-west", "us-east"]
        );
        let eu = assignments.for_region("eu-west");
        let document: Table = toml::from_str(&eu.document).unwrap();
        let monitors = array_of_tables(&document, "monitors");
        assert_eq!(monitors.len(), 1);
        assert_eq!(monitors[0]["id"].as_str(), Some("imap"));
        assert_eq!(monitors[0]["password"].as_str(), Some("s3cret"));
        assert!(
            !eu.document.contains("ADMIN"),
            "nothing of [server] but the region"
        );
        assert!(!eu.document.contains("depends_on"));
        assert!(!eu.document.contains("regions"));
        assert_eq!(document["server"]["region"].as_str(), Some("eu-west"));
        assert_eq!(document["defaults"]["interval"].as_str(), Some("20s"));
        let components = array_of_tables(&document, "components");
        assert_eq!(components.len(), 1, "only the components of its monitors");
        let us = assignments.for_region("us-east");
        assert!(us.document.contains("https://example.test/"));
        assert!(!us.document.contains("quorum"));
        assert_ne!(eu.generation, us.generation);
        assert_eq!(
            build(SOURCE, &env, "local", &[]).for_region("eu-west"),
            eu,
            "stable"
        );
        assert!(!format!("{eu:?}").contains("s3cret"));
    }

    #[test]
    fn every_document_is_a_valid_configuration_of_its_region() {
        let assignments = crate::parse("server.toml", SOURCE, &|name: &str| {
            env(name).or_else(|| Some("an-admin-token-long-enough".to_owned()))
        })
        .unwrap()
        .assignments;
        for region in ["eu-west", "us-east"] {
            let assignment = assignments.for_region(region);
            let config = crate::parse("assigned.toml", &assignment.document, &|_| None)
                .unwrap_or_else(|errors| panic!("{region}: {errors}"));
            assert_eq!(config.server.region, region);
            assert!(config
                .monitors
                .iter()
                .all(|monitor| monitor.regions(&config.server.region) == [region]));
            assert!(config
                .monitors
                .iter()
                .all(|monitor| monitor.phase.is_some()));
        }
        // The regions of one monitor run it at evenly spaced points of its interval.
        let phase_of = |region: &str| {
            let config = crate::parse("a.toml", &assignments.for_region(region).document, &|_| {
                None
            })
            .unwrap();
            let phase = config
                .monitors
                .iter()
                .find(|monitor| monitor.id.as_str() == "imap")
                .and_then(|monitor| monitor.phase);
            phase
        };
        let eu = phase_of("eu-west").unwrap();
        let server = crate::parse("server.toml", SOURCE, &|name: &str| {
            env(name).or_else(|| Some("an-admin-token-long-enough".to_owned()))
        })
        .unwrap();
        let imap = &server.monitors[0];
        assert_eq!(eu.as_millis(), imap.region_phase(1, 2).as_millis());
        let apart = (imap.region_phase(1, 2).as_millis() + 20_000
            - imap.region_phase(0, 2).as_millis())
            % 20_000;
        assert_eq!(apart, 10_000, "two regions at 20 s: one look every 10 s");
    }

    #[test]
    fn a_region_nothing_names_gets_an_empty_document() {
        let assignment = build(SOURCE, &env, "local", &[]).for_region("ap-south");
        assert_eq!(assignment.document, "");
        let config = crate::parse("empty.toml", &assignment.document, &|_| None).unwrap();
        assert!(config.monitors.is_empty());
    }
}
