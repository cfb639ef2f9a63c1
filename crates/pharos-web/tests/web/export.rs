//! The static export: the same site from the database alone, without what only a running
//! server can answer.

use crate::support::*;

/// Before: a static export of a site with subscriptions carried the sign-up form, which a
/// static host cannot take.
#[tokio::test]
async fn the_static_export_has_no_sign_up_form_a_static_host_cannot_answer() {
    let source = format!(
        "[server]\npublic_url = \"https://status.example.test/\"\n\n{COMPONENT}\n\
         [[channels]]\nid = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n\
         from = \"Status <status@example.test>\"\nto = [\"ops@example.test\"]\nevents = [\"pharos.degraded\"]\n\n\
         [subscribers]\nemail_channel = \"mail\"\n"
    );
    let site = site_from(&source, async |_| {}).await;
    let (status, _, served) = call(
        &site.app,
        peer(1),
        get("/").body(axum::body::Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let served = String::from_utf8(served).unwrap();
    assert!(
        served.contains("action=\"/subscribe\""),
        "the server takes sign-ups"
    );

    let directory = tempfile::tempdir().unwrap();
    pharos_web::export(&site.config, site.store.as_ref(), directory.path())
        .await
        .unwrap();
    let exported = std::fs::read_to_string(directory.path().join("index.html")).unwrap();
    assert!(
        exported.contains("Service"),
        "the export is the status page"
    );
    assert!(!exported.contains("/subscribe"), "{exported}");
}
