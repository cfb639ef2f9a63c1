//! Atom and RSS feeds of incidents, newest first.

use crate::view::StatusView;
use atom_syndication::{Entry, Feed, Link, Person, Text};
use pharos_core::Incident;

/// Text as XML 1.0 allows it: characters it forbids (most control characters, whatever a
/// database written by an older version may hold) are dropped, so a feed is always valid.
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}'
        })
        .collect()
}

/// Plain text for an RSS description, which readers treat as HTML: escaped, so it shows as
/// the text it is.
fn escaped_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn link(view: &StatusView, path: &str) -> String {
    match &view.public_url {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), path),
        None => path.to_owned(),
    }
}

fn summary(view: &StatusView, incident: &Incident) -> String {
    let mut text = format!(
        "{} — {}",
        view.component_name(incident),
        incident.worst_impact.label()
    );
    if let Some(update) = incident.updates.last() {
        text.push_str(&format!(". {}: {}", update.phase.label(), update.message));
    }
    if let Some(promise) = incident.promise_sentence() {
        text.push(' ');
        text.push_str(&promise);
    }
    text
}

fn updated(incident: &Incident) -> chrono::DateTime<chrono::Utc> {
    incident
        .updates
        .last()
        .map(|update| update.at)
        .or(incident.resolved_at)
        .unwrap_or(incident.detected_at)
}

pub(crate) fn atom(view: &StatusView) -> String {
    let entries: Vec<Entry> = view
        .all_incidents()
        .map(|incident| Entry {
            title: Text::plain(xml_text(&format!(
                "{} [{}]",
                incident.title,
                incident.phase.label()
            ))),
            id: link(
                view,
                &format!("/incidents/{}#{}", incident.id, incident.updates.len()),
            ),
            updated: updated(incident).fixed_offset(),
            published: Some(incident.detected_at.fixed_offset()),
            links: vec![Link {
                href: link(view, &format!("/incidents/{}", incident.id)),
                rel: "alternate".into(),
                ..Link::default()
            }],
            summary: Some(Text::plain(xml_text(&summary(view, incident)))),
            ..Entry::default()
        })
        .collect();
    let feed = Feed {
        title: Text::plain(xml_text(&format!("{} — incidents", view.title))),
        id: link(view, "/feed.atom"),
        updated: entries
            .first()
            .map(|entry| entry.updated)
            .unwrap_or_else(|| view.generated_at.fixed_offset()),
        authors: vec![Person {
            name: xml_text(&view.title),
            ..Person::default()
        }],
        links: vec![
            Link {
                href: link(view, "/feed.atom"),
                rel: "self".into(),
                ..Link::default()
            },
            Link {
                href: link(view, "/"),
                rel: "alternate".into(),
                ..Link::default()
            },
        ],
        entries,
        ..Feed::default()
    };
    feed.to_string()
}

pub(crate) fn rss(view: &StatusView) -> String {
    let items: Vec<rss::Item> = view
        .all_incidents()
        .map(|incident| {
            let mut item = rss::Item::default();
            item.set_title(xml_text(&format!(
                "{} [{}]",
                incident.title,
                incident.phase.label()
            )));
            item.set_link(link(view, &format!("/incidents/{}", incident.id)));
            item.set_description(escaped_html(&xml_text(&summary(view, incident))));
            item.set_pub_date(updated(incident).to_rfc2822());
            item.set_guid(rss::Guid {
                value: link(
                    view,
                    &format!("/incidents/{}#{}", incident.id, incident.updates.len()),
                ),
                permalink: false,
            });
            item
        })
        .collect();
    let mut channel = rss::Channel::default();
    channel.set_title(xml_text(&format!("{} — incidents", view.title)));
    channel.set_link(link(view, "/"));
    channel.set_description(escaped_html(&xml_text(&format!(
        "Incidents reported on the {} status page",
        view.title
    ))));
    channel.set_last_build_date(view.generated_at.to_rfc2822());
    channel.set_items(items);
    channel.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use pharos_core::{ComponentId, ComponentStatus, IncidentPhase, IncidentUpdate};

    fn view_with(title: &str, message: &str) -> StatusView {
        let config = pharos_config::parse(
            "f.toml",
            "[[components]]\nid = \"mail\"\nname = \"Mail\"\n",
            &|_| None,
        )
        .unwrap();
        let now = Utc::now();
        let incident = Incident {
            dependents: Vec::new(),
            scope: None,
            id: 3,
            component: ComponentId::new("mail"),
            title: title.to_owned(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: now,
            detected_at: now,
            resolved_at: None,
            updates: vec![IncidentUpdate {
                at: now,
                phase: IncidentPhase::Investigating,
                message: message.to_owned(),
                automatic: false,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            }],
            timeline: vec![],
        };
        StatusView::build(&config, &Default::default(), vec![incident], &[], &[], now)
    }

    /// Before: a control character stored in an incident made both feeds invalid XML, and
    /// RSS descriptions carried user text as HTML.
    #[test]
    fn feeds_stay_valid_xml_and_rss_descriptions_are_text() {
        let view = view_with("Mail \u{1}down", "Relay <b>failed</b> ]]> & more\u{7}");
        let rss = rss(&view);
        let atom = atom(&view);
        for feed in [&rss, &atom] {
            assert!(
                !feed
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
                "{feed}"
            );
        }
        let channel = rss::Channel::read_from(rss.as_bytes()).expect("valid RSS");
        let description = channel.items()[0].description().unwrap();
        assert!(
            description.contains("Relay &lt;b&gt;failed&lt;/b&gt; ]]&gt; &amp; more"),
            "{description}"
        );
        assert!(
            atom_syndication::Feed::read_from(atom.as_bytes()).is_ok(),
            "valid Atom"
        );
    }
}
