//! Stored and reflected XSS: every text field an operator or a reader can fill (incident
//! titles, first messages, updates, resolutions, corrections, false-alarm reasons,
//! postmortems, maintenance titles and messages, token labels, login names, sign-up
//! addresses) is tried with the shared payload corpus. A real headless Chromium then visits
//! every page that shows them, public and admin, and finds each field's words shown, with no
//! script, event handler, frame, base, refresh or dangerous link added to the page.

use crate::admin_browser::{add_user, page_with, PASSWORD};
use crate::browser::{browser_available, start_browser};
use crate::support::*;
use fantoccini::Locator;
use std::time::Duration;

/// The corpus the Markdown renderer's unit test uses too; `\t` stands for a tab.
const CORPUS: &str = include_str!("../../../pharos-web/testdata/xss-payloads.txt");

fn payloads() -> Vec<String> {
    CORPUS
        .lines()
        .map(|line| line.replace("\\t", "\t"))
        .collect()
}

/// A payload for a one-line field (titles, labels, reasons refuse control characters).
fn one_line(payload: &str) -> String {
    payload.replace('\t', " ")
}

/// What a payload could have added to a page, listed; empty when the page is clean. The
/// pages carry no script of their own, no frame, no base and no refresh.
const INJECTED: &str = r#"
const found = [];
if (document.scripts.length) found.push('script');
const dangerous = /^(javascript|vbscript|data):/i;
for (const element of document.querySelectorAll('*')) {
  const tag = element.tagName.toLowerCase();
  if (['iframe', 'frame', 'object', 'embed', 'base', 'applet', 'math'].includes(tag)) found.push(tag);
  if (tag === 'meta' && element.hasAttribute('http-equiv')) found.push('meta http-equiv');
  for (const attribute of element.attributes) {
    const name = attribute.name.toLowerCase();
    if (name.startsWith('on')) found.push(tag + ' ' + name);
    const value = attribute.value.replace(/[\s\u0000-\u001f]/g, '');
    if (['href', 'src', 'action', 'formaction', 'data', 'srcdoc', 'xlink:href', 'background'].includes(name)
        && dangerous.test(value)) found.push(tag + ' ' + name + '=' + attribute.value);
    if (name === 'style' && /javascript|expression|url\(/i.test(value)) found.push(tag + ' style');
  }
}
if (getComputedStyle(document.body).display === 'none') found.push('hidden body');
return found;
"#;

/// Opens `path` (again, until it shows every marker or 15 s pass: public pages are rendered
/// off the request path) and checks nothing was injected.
async fn visit(
    browser: &fantoccini::Client,
    base: &str,
    path: &str,
    markers: &[String],
) -> Result<(), fantoccini::error::CmdError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        browser.goto(&format!("{base}{path}")).await?;
        let text = browser
            .execute("return document.body.innerText", vec![])
            .await?;
        let text = text.as_str().unwrap_or_default().to_owned();
        let missing: Vec<&String> = markers
            .iter()
            .filter(|marker| !text.contains(marker.as_str()))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} does not show {missing:?}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let found = browser.execute(INJECTED, vec![]).await?;
    assert_eq!(
        found,
        serde_json::json!([]),
        "{path}: the payloads added markup"
    );
    let ran = browser
        .execute("return typeof window.pwned", vec![])
        .await?;
    assert_eq!(ran, "undefined", "{path}");
    Ok(())
}

async fn admin_post(pharos: &Pharos, path: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, answer) =
        http_post(pharos.address, path, Some(ADMIN_TOKEN), &body.to_string()).await;
    assert!(
        status == 200 || status == 201,
        "POST {path} {body}: {status} {answer}"
    );
    serde_json::from_str(&answer).unwrap_or_else(|error| panic!("POST {path}: {error}: {answer}"))
}

#[tokio::test]
async fn payloads_in_every_field_come_out_inert_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    // Sign-ups need an email channel; nothing has to be delivered for this test.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\n[[channels]]\nid = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n\
             from = \"Status <status@example.test>\"\nto = [\"ops@example.test\"]\nevents = [\"pharos.degraded\"]\n\n\
             [subscribers]\nemail_channel = \"mail\"\n"
        ),
    )
    .unwrap();
    add_user(&config, "ada", "admin");
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        (pharos.get_json("/api/v1/components").await[0]["status"] == "operational").then_some(())
    })
    .await;
    let payloads = payloads();
    let last = payloads.len() - 1;

    // False alarms: their reasons show in the admin only (the incidents leave the public).
    let mut withdrawn = Vec::new();
    for (n, payload) in payloads.iter().enumerate().take(4) {
        let incident = admin_post(
            &pharos,
            "/api/v1/admin/incidents",
            serde_json::json!({"component": "svc", "title": format!("to be withdrawn {n}"),
                               "impact": "degraded_performance", "message": "checking"}),
        )
        .await;
        let id = incident["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{incident}"));
        admin_post(
            &pharos,
            &format!("/api/v1/admin/incidents/{id}/false-alarm"),
            serde_json::json!({"reason": format!("f{n:02}x {}", one_line(payload))}),
        )
        .await;
        withdrawn.push(id);
    }
    // One incident per payload, each with it in every field; all but the last resolved.
    let mut incidents = Vec::new();
    for (n, payload) in payloads.iter().enumerate() {
        let incident = admin_post(
            &pharos,
            "/api/v1/admin/incidents",
            serde_json::json!({"component": "svc", "title": format!("t{n:02}x {}", one_line(payload)),
                               "impact": "partial_outage", "message": format!("m{n:02}x {payload}")}),
        )
        .await;
        let id = incident["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{incident}"));
        admin_post(
            &pharos,
            &format!("/api/v1/admin/incidents/{id}/updates"),
            serde_json::json!({"status": "identified", "message": format!("u{n:02}x {payload}")}),
        )
        .await;
        admin_post(
            &pharos,
            &format!("/api/v1/admin/incidents/{id}/updates/2/edit"),
            serde_json::json!({"message": format!("e{n:02}x {payload}")}),
        )
        .await;
        if n != last {
            admin_post(
                &pharos,
                &format!("/api/v1/admin/incidents/{id}/resolve"),
                serde_json::json!({"message": format!("r{n:02}x {payload}")}),
            )
            .await;
        }
        incidents.push(id);
    }
    let postmortem: Vec<String> = payloads
        .iter()
        .enumerate()
        .map(|(n, payload)| format!("p{n:02}x {payload}"))
        .collect();
    let first = incidents[0];
    admin_post(
        &pharos,
        &format!("/api/v1/admin/incidents/{first}/postmortem"),
        serde_json::json!({"text": postmortem.join("\n\n")}),
    )
    .await;
    // Maintenance windows, one per payload, tomorrow.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    for (n, payload) in payloads.iter().enumerate() {
        admin_post(
            &pharos,
            "/api/v1/admin/maintenance",
            serde_json::json!({"title": format!("w{n:02}x {}", one_line(payload)), "components": ["svc"],
                               "start": (tomorrow + chrono::Duration::minutes(n as i64)).to_rfc3339(),
                               "duration": "30m", "message": format!("v{n:02}x {payload}")}),
        )
        .await;
    }
    // Sign-ups: an address is never shown back, and a refused one is not echoed either.
    for payload in &payloads {
        let body = format!("email={}", urlencode(payload));
        let (status, answer) = http_form(pharos.address, "/subscribe", &body).await;
        assert!(status < 500, "{payload:?}: {status}");
        assert!(
            !answer.contains(payload.as_str()),
            "{payload:?} echoed: {answer}"
        );
    }

    let (_driver, browser) = start_browser(dir.path()).await;
    let base = format!("http://{}", pharos.address);
    let marks = |letter: char, range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|n| format!("{letter}{n:02}x")).collect()
    };
    let all = 0..payloads.len();
    let result = async {
        // A reader signs up with an odd but valid address through the page's form.
        browser.goto(&format!("{base}/")).await?;
        let form = browser
            .form(Locator::Css("form[action='/subscribe']"))
            .await?;
        form.set_by_name("email", "o'onmouseover=alert`1`@example.test")
            .await?
            .submit()
            .await?;
        // Nothing listens where the mail channel sends: the page says so.
        let answer = page_with(&browser, "could not send").await?;
        assert!(answer.contains("could not send"), "{answer}");
        assert_eq!(
            browser.execute(INJECTED, vec![]).await?,
            serde_json::json!([])
        );

        // Failed logins under payload names: the login page shows the name again; the audit
        // log keeps it.
        for (n, payload) in payloads.iter().enumerate().take(4) {
            browser.goto(&format!("{base}/admin/login")).await?;
            let login = browser
                .form(Locator::Css("form[action='/admin/login']"))
                .await?;
            login
                .set_by_name("name", &format!("l{n:02}x {}", one_line(payload)))
                .await?
                .set_by_name("password", "wrong")
                .await?
                .submit()
                .await?;
            page_with(&browser, "Wrong name or password").await?;
            assert_eq!(
                browser.execute(INJECTED, vec![]).await?,
                serde_json::json!([]),
                "login page after {payload:?}"
            );
        }
        browser.goto(&format!("{base}/admin/login")).await?;
        let login = browser
            .form(Locator::Css("form[action='/admin/login']"))
            .await?;
        login
            .set_by_name("name", "ada")
            .await?
            .set_by_name("password", PASSWORD)
            .await?
            .submit()
            .await?;
        page_with(&browser, "Logged in as").await?;

        // Token labels, through the admin's form.
        for (n, payload) in payloads.iter().enumerate() {
            browser.goto(&format!("{base}/admin/tokens")).await?;
            let form = browser
                .form(Locator::Css("form[action='/admin/tokens']"))
                .await?;
            form.set_by_name("label", &format!("k{n:02}x {}", one_line(payload)))
                .await?
                .submit()
                .await?;
            page_with(&browser, "shown this once").await?;
        }
        // A refused form is shown again with what was typed.
        browser.goto(&format!("{base}/admin/maintenance")).await?;
        let form = browser
            .form(Locator::Css("form[action='/admin/maintenance']"))
            .await?;
        form.set_by_name("title", &format!("z00x {}", payloads[20]))
            .await?
            .set_by_name("start", "2030-01-01T10:00")
            .await?
            .set_by_name("duration", "a while")
            .await?
            .submit()
            .await?;
        page_with(&browser, "must be a duration").await?;
        assert_eq!(
            browser.execute(INJECTED, vec![]).await?,
            serde_json::json!([]),
            "the refused maintenance form"
        );
        let value = browser
            .find(Locator::Css("#title"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(
            value.as_deref(),
            Some(format!("z00x {}", payloads[20]).as_str()),
            "typed text comes back as typed"
        );

        // Public pages.
        let open = incidents[last];
        let mut on_home = marks('w', all.clone());
        on_home.push(format!("t{last:02}x"));
        visit(&browser, &base, "/", &on_home).await?;
        visit(
            &browser,
            &base,
            "/components/svc",
            &[format!("t{last:02}x")],
        )
        .await?;
        for (n, id) in incidents.iter().enumerate() {
            let mut shown = vec![
                format!("t{n:02}x"),
                format!("m{n:02}x"),
                format!("e{n:02}x"),
            ];
            if n != last {
                shown.push(format!("r{n:02}x"));
            }
            if *id == first {
                shown.extend(marks('p', all.clone()));
            }
            visit(&browser, &base, &format!("/incidents/{id}"), &shown).await?;
        }
        // The Markdown export is served as text: nothing in it becomes markup.
        visit(
            &browser,
            &base,
            &format!("/incidents/{first}/postmortem.md"),
            &marks('p', all.clone()),
        )
        .await?;

        // Admin pages.
        visit(&browser, &base, "/admin", &[format!("t{last:02}x")]).await?;
        for (n, id) in incidents.iter().enumerate() {
            let mut shown = vec![format!("t{n:02}x"), format!("m{n:02}x")];
            if *id == open {
                shown.push(format!("e{n:02}x"));
            }
            visit(&browser, &base, &format!("/admin/incidents/{id}"), &shown).await?;
            // The correction's text box holds the words as typed.
            let boxes = browser
                .execute(
                    "return [...document.querySelectorAll('textarea')].map(t => t.value)",
                    vec![],
                )
                .await?;
            let payload = &payloads[n];
            assert!(
                boxes
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|value| value.as_str() == Some(format!("e{n:02}x {payload}").as_str())),
                "the correction box of #{id} holds {payload:?}: {boxes}"
            );
            if *id == first {
                assert!(
                    boxes
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|value| value.as_str() == Some(postmortem.join("\n\n").as_str())),
                    "the postmortem box holds the text as written"
                );
            }
        }
        visit(
            &browser,
            &base,
            "/admin/maintenance",
            &[marks('w', all.clone()), marks('v', all.clone())].concat(),
        )
        .await?;
        visit(&browser, &base, "/admin/tokens", &marks('k', all.clone())).await?;
        for (n, id) in withdrawn.iter().enumerate() {
            visit(
                &browser,
                &base,
                &format!("/admin/incidents/{id}"),
                &[format!("f{n:02}x")],
            )
            .await?;
        }
        visit(&browser, &base, "/admin/users", &["ada".to_owned()]).await?;
        visit(
            &browser,
            &base,
            "/admin/password",
            &["Current password".to_owned()],
        )
        .await?;
        visit(
            &browser,
            &base,
            "/admin/audit",
            &[marks('l', 0..4), marks('k', all.clone())].concat(),
        )
        .await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("browser commands");
}

/// Form-encodes `text` (application/x-www-form-urlencoded).
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (byte as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
