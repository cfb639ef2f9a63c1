//! Status badges as SVG, for READMEs and intranet pages: the whole page's status
//! (`/badge.svg`), a component's status (`/badge/{id}.svg`) and its 90-day uptime
//! (`/badge/{id}/uptime.svg`). Every text is XML-escaped.

use crate::view::{ComponentView, StatusView};
use pharos_core::ComponentStatus;

pub(crate) const SVG: &str = "image/svg+xml; charset=utf-8";

/// Which badge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Badge {
    Overall,
    Status(String),
    Uptime(String),
}

impl Badge {
    /// The badge at `path`, if the view has what it shows.
    pub(crate) fn at(view: &StatusView, path: &str) -> Option<Badge> {
        if path == "/badge.svg" {
            return Some(Badge::Overall);
        }
        let rest = path.strip_prefix("/badge/")?;
        let (id, badge): (&str, fn(String) -> Badge) = match rest.strip_suffix("/uptime.svg") {
            Some(id) => (id, Badge::Uptime),
            None => (rest.strip_suffix(".svg")?, Badge::Status),
        };
        view.component(id).map(|_| badge(id.to_owned()))
    }

    /// Every badge of the view, by path.
    pub(crate) fn paths(view: &StatusView) -> Vec<String> {
        let mut paths = vec!["/badge.svg".to_owned()];
        for group in &view.groups {
            for component in &group.components {
                paths.push(format!("/badge/{}.svg", component.id));
                paths.push(format!("/badge/{}/uptime.svg", component.id));
            }
        }
        paths
    }

    pub(crate) fn render(&self, view: &StatusView) -> Option<String> {
        let (label, value, color) = match self {
            Badge::Overall => {
                let color = if view.pending {
                    PENDING
                } else {
                    status_color(view.overall)
                };
                (view.title.as_str(), view.overall_label().to_owned(), color)
            }
            Badge::Status(id) => {
                let component = view.component(id)?;
                let color = if component.pending {
                    PENDING
                } else {
                    status_color(component.status)
                };
                (
                    component.name.as_str(),
                    component.status_label().to_owned(),
                    color,
                )
            }
            Badge::Uptime(id) => {
                let component = view.component(id)?;
                let (value, color) = uptime(component);
                (component.name.as_str(), value, color)
            }
        };
        Some(svg(label, &value, color))
    }
}

const PENDING: &str = "#8a8a8a";

fn status_color(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "#2e7d32",
        ComponentStatus::UnderMaintenance => "#1565c0",
        ComponentStatus::DegradedPerformance => "#b8860b",
        ComponentStatus::PartialOutage => "#d35400",
        ComponentStatus::MajorOutage => "#c62828",
    }
}

/// "99.95% uptime (90 days)" and its colour.
fn uptime(component: &ComponentView) -> (String, &'static str) {
    match component.uptime {
        None => ("no data yet".to_owned(), PENDING),
        Some(share) => {
            let percent = share * 100.0;
            let color = if percent >= 99.9 {
                "#2e7d32"
            } else if percent >= 99.0 {
                "#689f38"
            } else if percent >= 95.0 {
                "#d35400"
            } else {
                "#c62828"
            };
            let shown = format!("{:.2}", (percent * 100.0).floor() / 100.0);
            (format!("{shown}% uptime (90 days)"), color)
        }
    }
}

/// A flat two-part badge.
fn svg(label: &str, value: &str, color: &str) -> String {
    let label_width = text_width(label) + 12;
    let value_width = text_width(value) + 12;
    let width = label_width + value_width;
    let (label, value) = (escape(label), escape(value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{label_width}" height="20" fill="#555"/><rect x="{label_width}" width="{value_width}" height="20" fill="{color}"/><rect width="{width}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{label_x}" y="14">{label}</text><text x="{value_x}" y="14">{value}</text></g></svg>
"##,
        label_x = label_width / 2,
        value_x = label_width + value_width / 2,
    )
}

/// Roughly how wide `text` is in 11px Verdana.
fn text_width(text: &str) -> usize {
    let tenths: usize = text
        .chars()
        .map(|character| match character {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' => 35,
            'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '-' => 50,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 100,
            character if character.is_ascii_uppercase() => 80,
            _ => 70,
        })
        .sum();
    tenths.div_ceil(10)
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_escaped_and_the_badge_grows_with_them() {
        let short = svg("Mail", "Operational", "#2e7d32");
        let hostile = svg(
            "Mail <script>alert(1)</script> & \"co\"",
            "Operational",
            "#2e7d32",
        );
        assert!(!hostile.contains("<script>"), "{hostile}");
        assert!(hostile.contains("Mail &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;"));
        let width = |svg: &str| -> usize {
            svg.split("width=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(width(&hostile) > width(&short) + 100, "{short}\n{hostile}");
        assert!(short.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    }
}
