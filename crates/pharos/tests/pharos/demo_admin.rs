//! The demo's admin: the credentials it prints once log in, in a real browser, and the admin
//! shows the demo's components live. With PHAROS_SCREENSHOTS=DIR set, it also saves the
//! README's pictures of the admin (a desktop and a phone-sized window) there.

use crate::browser::{browser_available, start_browser};
use crate::support::*;
use fantoccini::Locator;
use std::time::Duration;

#[tokio::test]
async fn the_demo_admin_logs_in_with_the_password_it_printed() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pharos = Pharos::start_demo(dir.path());
    let password = eventually(
        Duration::from_secs(20),
        "the demo admin's password in the log",
        || async {
            let log = pharos.log_text();
            log.split("as `demo` with the password ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        },
    )
    .await;
    let base = format!("http://{}", pharos.address);
    // A relative directory is taken from the repository's root, where the README's command runs.
    let screenshots = std::env::var_os("PHAROS_SCREENSHOTS").map(|dir| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    });
    let (_driver, browser) = start_browser(dir.path()).await;
    let result = async {
        browser.set_window_size(1280, 1000).await?;
        browser.goto(&format!("{base}/admin/login")).await?;
        let login = browser
            .form(Locator::Css("form[action='/admin/login']"))
            .await?;
        login
            .set_by_name("name", "demo")
            .await?
            .set_by_name("password", &password)
            .await?
            .submit()
            .await?;
        // The answer loads after the submit returns: wait for it (the old page goes stale).
        let overview = crate::admin_browser::page_with(&browser, "Logged in as").await?;
        assert!(overview.contains("Logged in as demo (admin)"), "{overview}");
        assert!(
            overview.contains("Webmail") && overview.contains("Webmail sign-in page"),
            "{overview}"
        );
        if let Some(dir) = &screenshots {
            // Let the checks fill in.
            tokio::time::sleep(Duration::from_secs(8)).await;
            browser.refresh().await?;
            std::fs::write(dir.join("admin-desktop.png"), browser.screenshot().await?).unwrap();
            browser
                .goto(&format!("{base}/admin/incidents/new?template=acknowledge"))
                .await?;
            browser.set_window_size(390, 844).await?;
            let form = browser
                .form(Locator::Css("form[action='/admin/incidents']"))
                .await?;
            form.set_by_name("component", "webmail")
                .await?
                .set_by_name("title", "Slow webmail for some users")
                .await?
                .set_by_name("impact", "degraded_performance")
                .await?
                .submit()
                .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            std::fs::write(dir.join("admin-phone.png"), browser.screenshot().await?).unwrap();
        }
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("browser commands");
}
