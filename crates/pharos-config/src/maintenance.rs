//! Reads `[[maintenance]]`: scheduled maintenance windows, one-off or repeating.

use crate::reader::{Context, TableReader};
use crate::validate::{check_unique, read_slug};
use pharos_core::maintenance::MaintenanceWindow;
use pharos_core::ComponentId;
use std::collections::HashMap;

pub(crate) fn read_maintenance(
    cx: &mut Context<'_, '_>,
    root: &mut TableReader<'_, '_>,
    components: &HashMap<ComponentId, ()>,
) -> Vec<MaintenanceWindow> {
    let mut seen = HashMap::new();
    let mut windows = Vec::new();
    for mut table in root.tables(cx, "maintenance", "maintenance window") {
        let whole = table.span.clone();
        let id = read_slug(cx, &mut table, "maintenance window");
        let title = table.required_text(cx, "title").map(|(title, _)| title);
        let message = table.text(cx, "message").map(|(message, _)| message);
        let mut covered = Vec::new();
        match table.strings(cx, "components") {
            Some(ids) if !ids.is_empty() => {
                for (id, span) in ids {
                    let id = ComponentId::new(id);
                    if components.contains_key(&id) {
                        covered.push(id);
                    } else {
                        cx.problems
                            .report(span, format!("no component has the id `{id}`"));
                    }
                }
            }
            Some(_) => cx.problems.report(
                table.span.clone(),
                format!("{} lists no `components`", table.name),
            ),
            None => table.missing(cx, "components"),
        }
        let start = match table.required_string(cx, "start") {
            Some((text, span)) => match chrono::DateTime::parse_from_rfc3339(&text) {
                Ok(start) => Some(start.with_timezone(&chrono::Utc)),
                Err(_) => {
                    cx.problems.report(
                        span,
                        format!("`start` must be a time such as \"2027-01-09T22:00:00Z\", found `{text}`"),
                    );
                    None
                }
            },
            None => None,
        };
        let length = match (table.duration(cx, "duration"), table.has("end")) {
            (Some(length), _) => Some(length),
            (None, true) => None,
            (None, false) => {
                table.missing(cx, "duration");
                None
            }
        };
        let end = table.string(cx, "end").and_then(|(text, span)| {
            match chrono::DateTime::parse_from_rfc3339(&text) {
                Ok(end) => Some((end.with_timezone(&chrono::Utc), span)),
                Err(_) => {
                    cx.problems.report(
                        span,
                        format!(
                            "`end` must be a time such as \"2027-01-10T00:00:00Z\", found `{text}`"
                        ),
                    );
                    None
                }
            }
        });
        let every = table.duration(cx, "every");
        table.finish(cx);
        let length = match (length, end, start) {
            (Some(length), _, _) => chrono::Duration::from_std(length).ok(),
            (None, Some((end, span)), Some(start)) => {
                if end <= start {
                    cx.problems.report(span, "`end` must come after `start`");
                    None
                } else {
                    Some(end - start)
                }
            }
            _ => None,
        };
        let every = every.and_then(|every| chrono::Duration::from_std(every).ok());
        if let (Some(every), Some(length)) = (every, length) {
            if every < length {
                cx.problems.report(
                    whole.clone(),
                    "`every` must be at least as long as the window itself",
                );
            }
        }
        if let (Some((id, span)), Some(title), Some(start), Some(length)) =
            (id, title, start, length)
        {
            if check_unique(cx, &mut seen, "maintenance window", &id, span) {
                windows.push(MaintenanceWindow {
                    id,
                    title,
                    components: covered,
                    start,
                    length,
                    every,
                    message,
                });
            }
        }
    }
    windows
}
