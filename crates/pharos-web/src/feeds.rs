//! Atom and RSS feeds of incidents, newest first.

use crate::view::StatusView;
use atom_syndication::{Entry, Feed, Link, Person, Text};
use pharos_core::Incident;

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
        incident.impact.label()
    );
    if let Some(update) = incident.updates.last() {
        text.push_str(&format!(". {}: {}", update.phase.label(), update.message));
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
            title: Text::plain(format!("{} [{}]", incident.title, incident.phase.label())),
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
            summary: Some(Text::plain(summary(view, incident))),
            ..Entry::default()
        })
        .collect();
    let feed = Feed {
        title: Text::plain(format!("{} — incidents", view.title)),
        id: link(view, "/feed.atom"),
        updated: entries
            .first()
            .map(|entry| entry.updated)
            .unwrap_or_else(|| view.generated_at.fixed_offset()),
        authors: vec![Person {
            name: view.title.clone(),
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
            item.set_title(format!("{} [{}]", incident.title, incident.phase.label()));
            item.set_link(link(view, &format!("/incidents/{}", incident.id)));
            item.set_description(summary(view, incident));
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
    channel.set_title(format!("{} — incidents", view.title));
    channel.set_link(link(view, "/"));
    channel.set_description(format!(
        "Incidents reported on the {} status page",
        view.title
    ));
    channel.set_last_build_date(view.generated_at.to_rfc2822());
    channel.set_items(items);
    channel.to_string()
}
