//! Operators' Markdown, rendered safe: raw HTML is shown as text, links go only to `http:`,
//! `https:` and `mailto:` addresses (or this site's paths) and open without a referrer, images
//! become their description, and bare web addresses become links. No markup of the
//! author's own reaches the page, so nothing is left for a sanitiser to remove.

use maud::{Markup, PreEscaped};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// The longest text rendered as Markdown (an update's message is at most 5,000 characters).
const LIMIT: usize = 20_000;

/// Renders `text` as safe HTML.
pub(crate) fn render(text: &str) -> Markup {
    let text = match text.char_indices().nth(LIMIT) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    let mut events = Vec::new();
    // Whether each open link was kept (a refused one leaves its text only).
    let mut links: Vec<bool> = Vec::new();
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => events.push(Event::Text(html)),
            Event::Start(Tag::Link { dest_url, .. }) => {
                let kept = allowed(&dest_url);
                if kept {
                    events.push(Event::InlineHtml(CowStr::from(anchor(&dest_url))));
                }
                links.push(kept);
            }
            Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    events.push(Event::InlineHtml(CowStr::Borrowed("</a>")));
                }
            }
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => {}
            Event::Text(text) if links.is_empty() => autolink(&text, &mut events),
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    PreEscaped(html)
}

/// Whether a link may go to `url`: a web or mail address, or a path on this site.
fn allowed(url: &str) -> bool {
    let cleaned: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme_end = cleaned.find(':');
    let path_start = cleaned.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        (Some(colon), Some(slash)) if slash < colon => true,
        (Some(_), _) => ["http://", "https://", "mailto:"]
            .iter()
            .any(|scheme| cleaned.starts_with(scheme)),
        (None, _) => true,
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn anchor(url: &str) -> String {
    format!(
        "<a href=\"{}\" rel=\"nofollow noopener noreferrer\">",
        escape(url.trim())
    )
}

/// Text with its bare `http(s)://` addresses as links (a trailing full stop or closing
/// bracket stays text).
fn autolink<'a>(text: &CowStr<'a>, events: &mut Vec<Event<'a>>) {
    let mut rest: &str = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let length = rest[start..]
            .find(|c: char| c.is_whitespace() || "<>\"'".contains(c))
            .unwrap_or(rest.len() - start);
        let address = rest[start..start + length].trim_end_matches(['.', ',', ';', ':', ')', ']']);
        if start > 0 {
            events.push(Event::Text(CowStr::from(rest[..start].to_owned())));
        }
        if address.len() > "https://".len() {
            events.push(Event::InlineHtml(CowStr::from(anchor(address))));
            events.push(Event::Text(CowStr::from(address.to_owned())));
            events.push(Event::InlineHtml(CowStr::Borrowed("</a>")));
        } else {
            events.push(Event::Text(CowStr::from(address.to_owned())));
        }
        rest = &rest[start + address.len()..];
    }
    if !rest.is_empty() {
        events.push(Event::Text(CowStr::from(rest.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> String {
        render(text).into_string()
    }

    #[test]
    fn markdown_becomes_markup() {
        assert_eq!(
            html("**Identified**: a failed *disk*.\n\n- one\n- two"),
            "<p><strong>Identified</strong>: a failed <em>disk</em>.</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        );
        assert_eq!(
            html("See [the provider](https://status.example.com/x) or https://example.org/a."),
            "<p>See <a href=\"https://status.example.com/x\" rel=\"nofollow noopener noreferrer\">the provider</a> or <a href=\"https://example.org/a\" rel=\"nofollow noopener noreferrer\">https://example.org/a</a>.</p>\n"
        );
    }

    /// The payloads every text field is tried with (here and in the browser tests), one a
    /// line; `\t` stands for a tab.
    fn corpus() -> Vec<String> {
        include_str!("../testdata/xss-payloads.txt")
            .lines()
            .map(|line| line.replace("\\t", "\t"))
            .collect()
    }

    /// Payloads of the kinds XSS filter cheat sheets list: none may come out as markup.
    #[test]
    fn script_event_handlers_and_dangerous_links_come_out_inert() {
        let corpus = corpus();
        assert!(corpus.len() >= 30);
        for payload in &corpus {
            let out = html(payload);
            check_inert(&out).unwrap_or_else(|problem| panic!("{payload:?} gave {out}: {problem}"));
        }
    }

    /// Every tag is one Markdown makes, with no attribute but a safe `href` and `rel`.
    fn check_inert(html: &str) -> Result<(), String> {
        const TAGS: [&str; 24] = [
            "p",
            "a",
            "strong",
            "em",
            "ul",
            "ol",
            "li",
            "code",
            "pre",
            "del",
            "blockquote",
            "br",
            "hr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "table",
            "thead",
            "tbody",
            "tr",
            "td",
        ];
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            // Quoted values aside, what is left is the tag's name and its attributes' names.
            let mut names = String::new();
            let mut values = Vec::new();
            let mut parts = tag.split('"');
            while let Some(outside) = parts.next() {
                names.push_str(outside);
                if let Some(value) = parts.next() {
                    values.push(value);
                }
            }
            let mut words = names
                .split(|c: char| c.is_whitespace() || c == '=')
                .filter(|w| !w.is_empty());
            let name = words
                .next()
                .unwrap_or("")
                .trim_start_matches('/')
                .trim_end_matches('/');
            if !TAGS.contains(&name) && name != "th" {
                return Err(format!("tag <{name}>"));
            }
            for attribute in words {
                if attribute != "href" && attribute != "rel" {
                    return Err(format!("attribute {attribute}"));
                }
            }
            if name == "a"
                && !tag.starts_with('/')
                && !values.first().is_some_and(|href| allowed(href))
            {
                return Err(format!("link to {:?}", values.first()));
            }
        }
        Ok(())
    }

    #[test]
    fn only_web_mail_and_local_addresses_are_links() {
        assert!(allowed("https://example.com"));
        assert!(allowed("mailto:ops@example.com"));
        assert!(allowed("/incidents/4"));
        assert!(allowed("#updates"));
        assert!(allowed("/path?next=javascript:x"));
        assert!(!allowed("javascript:alert(1)"));
        assert!(!allowed("java\nscript:alert(1)"));
        assert!(!allowed("data:text/html,x"));
        assert!(!allowed("ftp://example.com"));
    }
}
