//! The admin in the browser, through the router: login and logout, sessions that end at
//! once, CSRF and origin checks, the login limiter, roles and scoped API tokens, the audit
//! log, and operator text that comes out inert.

use crate::support::*;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::Utc;
use pharos_core::{
    ComponentId, ComponentStatus, Incident, IncidentPhase, IncidentUpdate, MonitorHealth,
    MonitorId, ProbeStatus, Role, TimelineEntry, TimelineKind,
};
use pharos_store::{Batch, Store, UserRecord};
use std::sync::Arc;

const PASSWORD: &str = "a long enough password";

fn user(name: &str, role: Role) -> UserRecord {
    UserRecord {
        name: name.into(),
        password_hash: pharos_web::credentials::hash_password(PASSWORD),
        role,
        created_at: Utc::now(),
        password_changed_at: Utc::now(),
    }
}

/// A site with an open incident on `svc` (its id answered) and three users: ada (admin),
/// ed (editor) and vic (viewer).
async fn admin_site() -> (Site, i64) {
    let id = Arc::new(std::sync::Mutex::new(0));
    let seeded = id.clone();
    let site = site_seeded(true, "", async move |store: &Arc<dyn Store>| {
        let number = store.reserve_incident_ids(1).await.unwrap().start;
        *seeded.lock().unwrap() = number;
        let now = Utc::now();
        let incident = Incident {
            dependents: Vec::new(),
            scope: None,
            id: number,
            component: ComponentId::new("svc"),
            title: "Service: major outage".into(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: now,
            detected_at: now,
            resolved_at: None,
            updates: vec![IncidentUpdate {
                at: now,
                phase: IncidentPhase::Investigating,
                message: "We are looking into it.".into(),
                automatic: true,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            }],
            timeline: vec![TimelineEntry {
                at: now,
                kind: TimelineKind::Detected,
                detail: "confirmed".into(),
            }],
        };
        store
            .commit(&Batch {
                new_incidents: vec![incident],
                health: vec![(
                    MonitorId::new("svc-tcp"),
                    MonitorHealth {
                        confirmed: ProbeStatus::Down,
                        problem_streak: 3,
                        ..MonitorHealth::default()
                    },
                )],
                component_status: vec![(
                    ComponentId::new("svc"),
                    ComponentStatus::MajorOutage,
                    now,
                )],
                ..Batch::default()
            })
            .await
            .unwrap();
        for (name, role) in [
            ("ada", Role::Admin),
            ("ed", Role::Editor),
            ("vic", Role::Viewer),
        ] {
            store.create_user(&user(name, role)).await.unwrap();
        }
    })
    .await;
    let id = *id.lock().unwrap();
    (site, id)
}

fn form(path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("host", "status.example");
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

fn page(path: &str, cookie: &str) -> Request<Body> {
    get(path)
        .header(COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Logs `name` in; answers the cookie (`pharos_session=…`) and the session's CSRF token read
/// from the overview's logout form.
async fn log_in(site: &Site, name: &str, from: u8) -> (String, String) {
    let (status, headers, body) = call(
        &site.app,
        peer(from),
        form(
            "/admin/login",
            None,
            &format!("name={name}&password={}", encode(PASSWORD)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text(&body));
    let cookie = cookie_of(&headers);
    let (status, _, body) = call(&site.app, peer(from), page("/admin", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    (cookie, csrf_in(&text(&body)))
}

fn cookie_of(headers: &HeaderMap) -> String {
    let set = headers[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

fn csrf_in(page: &str) -> String {
    let start = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_session_starts_at_login_and_ends_at_logout_and_on_a_password_change() {
    let (site, id) = admin_site().await;
    let (status, headers, _) = call(
        &site.app,
        peer(1),
        get("/admin").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/admin/login");

    let (status, headers, body) = call(
        &site.app,
        peer(1),
        form(
            "/admin/login",
            None,
            "name=ada&password=wrong+password+here",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text(&body).contains("Wrong name or password."));
    assert!(headers.get(SET_COOKIE).is_none());

    let (status, headers, _) = call(
        &site.app,
        peer(1),
        form(
            "/admin/login",
            None,
            &format!("name=ada&password={}", encode(PASSWORD)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers[SET_COOKIE].to_str().unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(flag), "{set}");
    }
    let cookie = cookie_of(&headers);
    let (status, headers, body) = call(&site.app, peer(1), page("/admin", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let overview = text(&body);
    for shown in [
        "Service: major outage",
        "Service",
        "svc-tcp",
        "Logged in as",
    ] {
        assert!(overview.contains(shown), "{shown} in {overview}");
    }
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("form-action 'self'"));
    let csrf = csrf_in(&overview);

    // Logging out needs the form's token; then the cookie is worthless at once.
    let (status, _, _) = call(
        &site.app,
        peer(1),
        form("/admin/logout", Some(&cookie), "csrf=guess"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = call(
        &site.app,
        peer(1),
        form("/admin/logout", Some(&cookie), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (status, headers, _) = call(
        &site.app,
        peer(1),
        page(&format!("/admin/incidents/{id}"), &cookie),
    )
    .await;
    assert_eq!(
        (status, &headers[LOCATION]),
        (StatusCode::SEE_OTHER, &"/admin/login".parse().unwrap())
    );

    // A changed password ends every session of the user.
    let (cookie, _) = log_in(&site, "ada", 1).await;
    site.store
        .update_user(
            "ada",
            &pharos_web::credentials::hash_password("another long password"),
            Role::Admin,
            Utc::now(),
        )
        .await
        .unwrap();
    let (status, _, _) = call(&site.app, peer(1), page("/admin", &cookie)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the session ended with the password"
    );

    let entries = site.store.audit_log(10, None).await.unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .rev()
        .map(|entry| (entry.actor.as_str(), entry.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("login:ada", "login.failed"),
            ("user:ada", "login"),
            ("user:ada", "logout"),
            ("user:ada", "login")
        ]
    );
}

#[tokio::test]
async fn updates_posted_from_the_admin_need_the_session_token_and_this_site_as_origin() {
    let (site, id) = admin_site().await;
    let (cookie, csrf) = log_in(&site, "ed", 2).await;
    let path = format!("/admin/incidents/{id}/updates");
    let message =
        "Identified: a <script>alert(1)</script> disk <img src=x onerror=alert(2)> failed";
    let body = |csrf: &str| format!("csrf={csrf}&status=identified&message={}", encode(message));

    let (status, _, _) = call(
        &site.app,
        peer(2),
        form(&path, Some(&cookie), &body("not-the-token")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let mut foreign = form(&path, Some(&cookie), &body(&csrf));
    foreign
        .headers_mut()
        .insert(ORIGIN, "https://evil.example".parse().unwrap());
    let (status, _, _) = call(&site.app, peer(2), foreign).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another site's form");
    let (status, _, _) = call(&site.app, peer(2), form(&path, None, &body(&csrf))).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "no session: to the login page"
    );
    let before = site.store.incident(id).await.unwrap().unwrap();
    assert_eq!(before.updates.len(), 1, "nothing posted yet: {before:#?}");

    let mut same = form(&path, Some(&cookie), &body(&csrf));
    same.headers_mut()
        .insert(ORIGIN, "http://status.example".parse().unwrap());
    let (status, headers, body) = call(&site.app, peer(2), same).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text(&body));
    assert_eq!(headers[LOCATION], format!("/admin/incidents/{id}").as_str());
    let incident = site.store.incident(id).await.unwrap().unwrap();
    let last = incident.updates.last().unwrap();
    assert_eq!(
        (last.phase, last.message.as_str(), last.automatic),
        (IncidentPhase::Identified, message, false)
    );

    let (_, _, body) = call(
        &site.app,
        peer(2),
        page(&format!("/admin/incidents/{id}"), &cookie),
    )
    .await;
    let shown = text(&body);
    assert!(
        !shown.contains("<script>alert") && !shown.contains("<img src=x"),
        "escaped: {shown}"
    );
    assert!(shown.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // The operator corrects their update, then writes the postmortem, from the same page.
    let number = incident.updates.len();
    let (status, _, body) = call(
        &site.app,
        peer(2),
        form(
            &format!("/admin/incidents/{id}/updates/{number}/edit"),
            Some(&cookie),
            &format!(
                "csrf={csrf}&message={}",
                encode("Identified: a failed disk.")
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text(&body));
    let corrected = site.store.incident(id).await.unwrap().unwrap();
    let last = corrected.updates.last().unwrap();
    assert_eq!(last.message, "Identified: a failed disk.");
    assert!(last.edited_at.is_some());
    let (status, _, _) = call(
        &site.app,
        peer(2),
        form(
            &format!("/admin/incidents/{id}/postmortem"),
            Some(&cookie),
            &format!("csrf={csrf}&postmortem={}", encode("A disk failed.")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let postmortems = site.store.postmortems(corrected.started_at).await.unwrap();
    assert_eq!(postmortems[&id].text, "A disk failed.");
    let (status, _, _) = call(
        &site.app,
        peer(2),
        form(
            &format!("/admin/incidents/{id}/updates/1/delete"),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "the first update stays");

    let entries = site.store.audit_log(3, None).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "incident.postmortem",
            "incident.update.edit",
            "incident.update"
        ]
    );
    let entry = &entries[2];
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("user:ed", "incident.update")
    );
    assert_eq!(
        entry.target.as_deref(),
        Some(format!("incident {id}").as_str())
    );
    assert_eq!(entry.address.as_deref(), Some("192.0.2.2"));
}

#[tokio::test]
async fn logins_stop_after_five_failures_for_an_account_even_with_the_right_password() {
    let (site, _) = admin_site().await;
    for attempt in 0..5u8 {
        let (status, _, _) = call(
            &site.app,
            peer(10 + attempt),
            form("/admin/login", None, "name=ada&password=not+the+password"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, headers, body) = call(
        &site.app,
        peer(20),
        form(
            "/admin/login",
            None,
            &format!("name=ada&password={}", encode(PASSWORD)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{}", text(&body));
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 800
    );
    assert!(headers.get(SET_COOKIE).is_none());
    // Another account is not held back.
    log_in(&site, "ed", 20).await;
}

#[tokio::test]
async fn roles_and_token_scopes_limit_what_each_operator_may_do() {
    let (site, id) = admin_site().await;
    let path = format!("/admin/incidents/{id}/updates");

    // A viewer reads the admin but cannot post, nor make a token that could.
    let (viewer, csrf) = log_in(&site, "vic", 3).await;
    let (status, _, body) = call(
        &site.app,
        peer(3),
        form(
            &path,
            Some(&viewer),
            &format!("csrf={csrf}&status=identified&message=found+it"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", text(&body));
    let (status, _, _) = call(
        &site.app,
        peer(3),
        form(
            "/admin/tokens",
            Some(&viewer),
            &format!("csrf={csrf}&label=cli&scope=incidents"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An editor's token with the incidents scope posts through the API, but cannot reload.
    let (editor, csrf) = log_in(&site, "ed", 4).await;
    let (status, _, body) = call(
        &site.app,
        peer(4),
        form(
            "/admin/tokens",
            Some(&editor),
            &format!("csrf={csrf}&label=on-call+laptop&scope=read&scope=incidents"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let page_text = text(&body);
    let start = page_text
        .find("pharos_api_")
        .expect("the token, shown once");
    let token: String = page_text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let (_, _, again) = call(&site.app, peer(4), page("/admin/tokens", &editor)).await;
    assert!(!text(&again).contains(&token), "shown only once");

    let api = |token: &str, path: &str, body: &str| {
        Request::post(path)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let update = r#"{"status": "monitoring", "message": "A fix is out; watching."}"#;
    let (status, _, body) = call(
        &site.app,
        peer(4),
        api(
            &token,
            &format!("/api/v1/admin/incidents/{id}/updates"),
            update,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let (status, _, body) = call(&site.app, peer(4), api(&token, "/api/v1/admin/reload", "")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", text(&body));
    assert!(text(&body).contains("`admin` scope"));

    // The audit log, through the API with the token (read scope), names the token's use.
    let (status, _, body) = call(
        &site.app,
        peer(4),
        get("/api/v1/admin/audit?limit=3")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let log: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let newest = &log["entries"][0];
    assert_eq!(newest["action"], "incident.update");
    assert!(
        newest["actor"].as_str().unwrap().starts_with("token:"),
        "{newest}"
    );
    assert!(
        newest["actor"].as_str().unwrap().ends_with("(ed)"),
        "{newest}"
    );

    // Revoked, it is refused at once.
    let id_shown = site.store.api_tokens(Some("ed")).await.unwrap()[0]
        .id
        .clone();
    let (status, _, _) = call(
        &site.app,
        peer(4),
        form(
            &format!("/admin/tokens/{id_shown}/revoke"),
            Some(&editor),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = call(
        &site.app,
        peer(4),
        api(
            &token,
            &format!("/api/v1/admin/incidents/{id}/updates"),
            update,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The configured admin token still works, as an admin.
    let (status, _, _) = call(
        &site.app,
        peer(5),
        get("/api/v1/admin/audit")
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_editor_schedules_and_cancels_maintenance_from_the_admin_and_a_viewer_cannot() {
    let (site, _) = admin_site().await;
    let (viewer, viewer_csrf) = log_in(&site, "vic", 6).await;
    let start = (Utc::now() + chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let fields = |csrf: &str| {
        format!(
            "csrf={csrf}&title={}&component=svc&start={}&duration=45m&every=7d&message={}",
            encode("Relay <b>swap</b>"),
            encode(&start),
            encode("Brief pauses.")
        )
    };
    let (status, _, _) = call(
        &site.app,
        peer(6),
        form("/admin/maintenance", Some(&viewer), &fields(&viewer_csrf)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (editor, csrf) = log_in(&site, "ed", 7).await;
    let (status, _, body) = call(
        &site.app,
        peer(7),
        form("/admin/maintenance", Some(&editor), &fields(&csrf)),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text(&body));
    let (_, _, body) = call(&site.app, peer(7), page("/admin/maintenance", &editor)).await;
    let listing = text(&body);
    assert!(
        listing.contains("Relay &lt;b&gt;swap&lt;/b&gt;") && listing.contains("Next: "),
        "{listing}"
    );
    let scheduled = site.store.load_engine_state().await.unwrap().maintenance;
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].length, chrono::Duration::minutes(45));
    let id = scheduled[0].id.clone();

    let (status, _, body) = call(
        &site.app,
        peer(7),
        form(
            "/admin/maintenance",
            Some(&editor),
            &format!("csrf={csrf}&title=x&component=svc&start=tomorrow&duration=45m"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text(&body).contains("`start` must be a time"),
        "the problem is said and the form kept"
    );

    let (status, _, _) = call(
        &site.app,
        peer(7),
        form(
            &format!("/admin/maintenance/{id}/cancel"),
            Some(&editor),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(site
        .store
        .load_engine_state()
        .await
        .unwrap()
        .maintenance
        .is_empty());
    let actions: Vec<String> = site
        .store
        .audit_log(2, None)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["maintenance.cancel", "maintenance.schedule"]);
}

/// The password shown once on the users page.
fn shown_password(page: &str) -> String {
    let start = page.find("class=\"secret\">").expect("a password shown") + 15;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn an_admin_adds_users_changes_roles_and_passwords_and_removes_them_from_the_admin() {
    let (site, _) = admin_site().await;
    // Only admins see or use the page.
    let (editor, editor_csrf) = log_in(&site, "ed", 8).await;
    let (status, _, _) = call(&site.app, peer(8), page("/admin/users", &editor)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(
        &site.app,
        peer(8),
        form(
            "/admin/users",
            Some(&editor),
            &format!("csrf={editor_csrf}&name=eve&role=admin"),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an editor cannot make an admin"
    );
    let (_, _, body) = call(&site.app, peer(8), page("/admin", &editor)).await;
    assert!(
        !text(&body).contains("href=\"/admin/users\""),
        "nor sees the link"
    );

    let (admin, csrf) = log_in(&site, "ada", 9).await;
    let (_, _, body) = call(&site.app, peer(9), page("/admin", &admin)).await;
    assert!(text(&body).contains("href=\"/admin/users\""));
    let (status, _, body) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users",
            Some(&admin),
            &format!("csrf={csrf}&name=nina&role=editor"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let password = shown_password(&text(&body));
    assert!(password.len() >= 12);
    let stored = site.store.user("nina").await.unwrap().unwrap();
    assert_eq!(stored.role, Role::Editor);
    assert!(!stored.password_hash.contains(&password), "kept hashed");
    let (status, _, _) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users",
            Some(&admin),
            &format!("csrf={csrf}&name=nina&role=viewer"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "one user per name");
    let (status, _, _) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users",
            Some(&admin),
            &format!("csrf={csrf}&name={}&role=viewer", encode("<b>x</b>")),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users",
            Some(&admin),
            "csrf=guess&name=mallory&role=admin",
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the session's token is needed"
    );

    // The new user logs in with the password shown.
    let login = |password: String| {
        form(
            "/admin/login",
            None,
            &format!("name=nina&password={}", encode(&password)),
        )
    };
    let (status, headers, _) = call(&site.app, peer(10), login(password.clone())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let nina = cookie_of(&headers);

    // A new role ends her session at once.
    let (status, _, _) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users/nina/role",
            Some(&admin),
            &format!("csrf={csrf}&role=viewer"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.store.user("nina").await.unwrap().unwrap().role,
        Role::Viewer
    );
    let (status, _, _) = call(&site.app, peer(10), page("/admin", &nina)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "logged out by the role change"
    );

    // A new password: the old one stops working, the new one works.
    let (_, headers, _) = call(&site.app, peer(10), login(password.clone())).await;
    let nina = cookie_of(&headers);
    let (status, _, body) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users/nina/password",
            Some(&admin),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let renewed = shown_password(&text(&body));
    assert_ne!(renewed, password);
    let (status, _, _) = call(&site.app, peer(10), page("/admin", &nina)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "logged out by the new password"
    );
    let (status, _, _) = call(&site.app, peer(10), login(password)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = call(&site.app, peer(10), login(renewed)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let nina = cookie_of(&headers);

    // Not on oneself: the last admin stays.
    for step in ["role", "password", "remove"] {
        let (status, _, _) = call(
            &site.app,
            peer(9),
            form(
                &format!("/admin/users/ada/{step}"),
                Some(&admin),
                &format!("csrf={csrf}&role=viewer"),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{step} on oneself");
    }
    assert_eq!(
        site.store.user("ada").await.unwrap().unwrap().role,
        Role::Admin
    );

    // Removing her ends her session; the audit log has each step.
    let (status, _, _) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users/nina/remove",
            Some(&admin),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(site.store.user("nina").await.unwrap().is_none());
    let (status, _, _) = call(&site.app, peer(10), page("/admin", &nina)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = call(
        &site.app,
        peer(9),
        form(
            "/admin/users/nina/remove",
            Some(&admin),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = site
        .store
        .audit_log(50, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.actor == "user:ada" && entry.action.starts_with("user."))
        .map(|entry| format!("{} {}", entry.action, entry.target.unwrap_or_default()))
        .collect();
    assert_eq!(
        actions,
        [
            "user.remove user nina",
            "user.passwd user nina",
            "user.role user nina",
            "user.add user nina"
        ]
    );
}

#[tokio::test]
async fn anyone_signed_in_changes_their_own_password_which_ends_their_sessions() {
    let (site, _) = admin_site().await;
    let (viewer, csrf) = log_in(&site, "vic", 11).await;
    let (other, _) = log_in(&site, "vic", 12).await;
    let (status, _, body) = call(&site.app, peer(11), page("/admin/password", &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&body).contains("Current password"));
    let change = |current: &str, new: &str, again: &str| {
        form(
            "/admin/password",
            Some(&viewer),
            &format!(
                "csrf={csrf}&name=vic&current={}&new={}&again={}",
                encode(current),
                encode(new),
                encode(again)
            ),
        )
    };
    let renewed = "a brand new long password";
    let (status, _, _) = call(
        &site.app,
        peer(11),
        change("wrong password!", renewed, renewed),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = call(&site.app, peer(11), change(PASSWORD, "short", "short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(&body).contains("at least"), "{}", text(&body));
    let (status, _, _) = call(
        &site.app,
        peer(11),
        change(PASSWORD, renewed, "a different long one"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, headers, _) = call(&site.app, peer(11), change(PASSWORD, renewed, renewed)).await;
    assert_eq!(
        (status, &headers[LOCATION]),
        (StatusCode::SEE_OTHER, &"/admin/login".parse().unwrap())
    );
    for cookie in [&viewer, &other] {
        let (status, _, _) = call(&site.app, peer(11), page("/admin", cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "every session of hers ended");
    }
    let (status, _, _) = call(
        &site.app,
        peer(11),
        form(
            "/admin/login",
            None,
            &format!("name=vic&password={}", encode(renewed)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the new password works");

    // Guessing through this form meets the login limit.
    let (viewer, csrf) = {
        let (status, headers, _) = call(
            &site.app,
            peer(13),
            form(
                "/admin/login",
                None,
                &format!("name=vic&password={}", encode(renewed)),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let cookie = cookie_of(&headers);
        let (_, _, body) = call(&site.app, peer(13), page("/admin", &cookie)).await;
        (cookie.clone(), csrf_in(&text(&body)))
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, _, _) = call(
            &site.app,
            peer(13),
            form(
                "/admin/password",
                Some(&viewer),
                &format!(
                    "csrf={csrf}&current=guess+guess+guess&new={}&again={}",
                    encode(renewed),
                    encode(renewed)
                ),
            ),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

/// An incident opened by hand from the admin on two components: the form names the other one
/// with its impact, the public page and the API say so, an update releases it.
#[tokio::test]
async fn an_incident_opened_by_hand_from_the_admin_takes_other_components() {
    let source = format!(
        "[server]\nadmin_token = \"{TOKEN}\"\n\n{COMPONENT}\n[[components]]\nid = \"db\"\nname = \"Database\"\n\n\
         [[monitors]]\nid = \"db-tcp\"\ncomponent = \"db\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\ninterval = \"1h\"\n"
    );
    let site = site_from(&source, async |store: &Arc<dyn Store>| {
        store.create_user(&user("ed", Role::Editor)).await.unwrap();
    })
    .await;
    let (cookie, csrf) = log_in(&site, "ed", 14).await;
    let (_, _, body) = call(&site.app, peer(14), page("/admin/incidents/new", &cookie)).await;
    assert!(
        text(&body).contains("name=\"affected.db\""),
        "the form offers the other components"
    );
    let (status, headers, body) = call(
        &site.app,
        peer(14),
        form(
            "/admin/incidents",
            Some(&cookie),
            &format!(
                "csrf={csrf}&component=svc&title=Slow+queries&impact=partial_outage&affected.svc=major_outage&affected.db=degraded_performance&status=investigating&message=Looking."
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text(&body));
    let location = headers[LOCATION].to_str().unwrap().to_owned();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let state = site.store.load_engine_state().await.unwrap();
    let status_of = |id: &str| {
        state
            .component_status
            .get(&ComponentId::new(id))
            .map(|(status, _)| *status)
    };
    assert_eq!(
        status_of("svc"),
        Some(ComponentStatus::PartialOutage),
        "its own choice wins over the form's repeat"
    );
    assert_eq!(status_of("db"), Some(ComponentStatus::DegradedPerformance));
    let (_, _, body) = call(&site.app, peer(14), page(&location, &cookie)).await;
    let admin_page = text(&body);
    assert!(
        admin_page.contains("Also affected: Database (degraded performance)"),
        "{admin_page}"
    );
    assert!(
        admin_page.contains("<option value=\"degraded_performance\" selected>"),
        "the update form starts from the impacts now"
    );
    let (status, _, body) = call(
        &site.app,
        peer(14),
        form(
            &format!("/admin/incidents/{id}/updates"),
            Some(&cookie),
            &format!("csrf={csrf}&status=identified&message=Only+queries+on+svc.&impact=partial_outage&affected.db="),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", text(&body));
    let state = site.store.load_engine_state().await.unwrap();
    assert_eq!(
        state
            .component_status
            .get(&ComponentId::new("db"))
            .map(|(status, _)| *status),
        Some(ComponentStatus::Operational),
        "released"
    );
    let stored = site.store.incident(id).await.unwrap().unwrap();
    assert_eq!(stored.affected_dependents().count(), 0);
    assert_eq!(
        stored.dependents.len(),
        1,
        "the record keeps that it was affected"
    );
}
