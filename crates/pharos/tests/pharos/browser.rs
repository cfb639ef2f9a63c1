//! The status page in a real headless Chromium: a component in outage and its open incident,
//! escaped user text, no scripts or external resources, usable on a phone-sized screen.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test prints a notice and
//! passes, unless PHAROS_TEST_BROWSER=required (as `.ci/run` sets), when it fails.

use crate::support::*;
use fantoccini::{ClientBuilder, Locator};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const REQUIRED_VARIABLE: &str = "PHAROS_TEST_BROWSER";

pub(crate) fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        skip(
            REQUIRED_VARIABLE,
            "the browser test",
            &format!("{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"),
        );
    }
    present
}

pub(crate) struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_page_shows_the_outage_and_its_incident_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        (pharos.get_json("/api/v1/components").await[0]["monitors"][0]["last_check"]["status"]
            == "up")
            .then_some(())
    })
    .await;
    target.stop().await;
    let incident_id = eventually(Duration::from_secs(10), "an incident", || async {
        pharos.get_json("/api/v1/incidents").await["incidents"][0]["id"].as_i64()
    })
    .await;

    let (_driver, browser) = start_browser(dir.path()).await;

    let result = async {
        browser.goto(&format!("http://{}/", pharos.address)).await?;
        let component = browser.find(Locator::Css("#component-svc")).await?;
        assert_eq!(component.attr("data-status").await?.as_deref(), Some("major_outage"));
        let component_text = component.text().await?;
        assert!(component_text.contains("Major outage"), "{component_text}");
        assert!(component_text.contains("Mail <script>alert(1)</script> submission"), "escaped text shows literally: {component_text}");
        let banner = browser.find(Locator::Css(".banner")).await?.text().await?;
        assert_eq!(banner, "Major system outage");
        // The status colours really apply (an element with two class attributes lost them).
        let colours = browser
            .execute(
                "return [getComputedStyle(document.querySelector('#component-svc .status')).color, \
                         getComputedStyle(document.querySelector('.banner')).backgroundColor]",
                vec![],
            )
            .await?;
        assert_eq!(colours, serde_json::json!(["rgb(197, 48, 48)", "rgb(197, 48, 48)"]), "major outage is red");
        let times = browser.execute("return [...document.querySelectorAll('time')].every(t => /^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$/.test(t.dateTime) && /:\\d\\d:\\d\\d UTC$/.test(t.textContent))", vec![]).await?;
        assert_eq!(times, serde_json::json!(true), "every time is machine-readable and shows seconds");
        let incident_link = browser.find(Locator::Css(&format!("a[href='/incidents/{incident_id}']"))).await?;
        assert_eq!(incident_link.text().await?, "Mail <script>alert(1)</script> submission: major outage");

        let scripts = browser.execute("return document.scripts.length", vec![]).await?;
        assert_eq!(scripts, serde_json::json!(0), "no scripts on the page");
        let external = browser
            .execute(
                "return [...document.querySelectorAll('[src],[href]')].map(e => e.src || e.href).filter(u => !u.startsWith(location.origin))",
                vec![],
            )
            .await?;
        assert_eq!(external, serde_json::json!([]), "no external resources");

        browser.set_window_size(390, 844).await?;
        let overflow = browser.execute("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await?;
        assert!(overflow.as_i64().unwrap_or(1) <= 0, "horizontal scrolling on a phone-sized screen: {overflow}");

        incident_link.click().await?;
        // The incident's page loads after the click returns (the old page goes stale).
        let page = crate::admin_browser::page_with(&browser, "First failed check").await?;
        assert!(page.contains("Timeline") && page.contains("First failed check: Submission port: connection refused"), "{page}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("browser commands");
}

/// Starts chromedriver and a headless Chromium session with a profile under `dir`.
pub(crate) async fn start_browser(dir: &Path) -> (Driver, fantoccini::Client) {
    let driver_port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let profile = dir.join("chromium-profile");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    // chromedriver is ready when it hands out a session.
    let browser = eventually(
        Duration::from_secs(30),
        "a chromedriver session",
        || async {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{driver_port}"))
                .await
                .ok()
        },
    )
    .await;

    (driver, browser)
}
