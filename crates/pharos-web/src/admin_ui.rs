//! The admin in the browser (`/admin`): log in and out, the live overview, an incident and
//! its update form, API tokens, the audit log. Sessions live in the store (so every replica
//! knows them and a logout ends them at once); every form checks the session's CSRF token and
//! the request's origin; logins are limited per address and per account.

use crate::admin::{client_address, ApiError};
use crate::admin_views as views;
use crate::incident_api as api;
use crate::operator::{self, Credential, Operator};
use crate::router::WebState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HOST, LOCATION, ORIGIN, REFERRER_POLICY, RETRY_AFTER,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use chrono::Utc;
use maud::Markup;
use pharos_core::Permission;
use pharos_store::{ApiTokenRecord, IncidentQuery, SessionRecord};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

pub(crate) type Client = Option<Extension<ConnectInfo<SocketAddr>>>;
pub(crate) type Fields = Form<Vec<(String, String)>>;

/// The admin's pages: never cached, never framed, forms only to this site, no scripts.
pub(crate) fn page(status: StatusCode, markup: Markup) -> Response {
    let mut response = (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Same-origin (not no-referrer): browsers then send the Origin header checked on posts.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

pub(crate) fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

pub(crate) fn address(state: &WebState, client: Client, headers: &HeaderMap) -> IpAddr {
    let peer = client.map(|Extension(ConnectInfo(address))| address.ip());
    client_address(&state.current().trusted_proxies, peer, headers)
}

pub(crate) fn store_failed(error: pharos_store::StoreError) -> Response {
    tracing::error!(%error, "admin: store error");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        views::message(
            None,
            "Unavailable",
            "pharos cannot read its database just now; try again in a moment.",
            "/admin",
        ),
    )
}

/// The logged-in operator, or the way to the login page.
pub(crate) async fn signed_in(
    state: &WebState,
    headers: &HeaderMap,
    client: Client,
) -> Result<Operator, Response> {
    let address = address(state, client, headers);
    match operator::from_session(state, headers, address).await {
        Ok(Some(operator)) => Ok(operator),
        Ok(None) => Err(redirect("/admin/login")),
        Err(error) => Err(store_failed(error)),
    }
}

/// The refusal of a form post, unless it carries the session's CSRF token and, when the
/// browser names its origin, comes from this site.
fn check_form(
    operator: &Operator,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Option<Response> {
    let refuse = || {
        page(
            StatusCode::FORBIDDEN,
            views::message(
                Some(operator),
                "Refused",
                "This form is out of date or came from another site. Reload the page and try again.",
                "/admin",
            ),
        )
    };
    let presented = field(fields, "csrf");
    let genuine = same_origin(headers)
        && !presented.is_empty()
        && operator::same_secret(presented, operator.csrf());
    (!genuine).then(refuse)
}

/// Whether the `Origin` header, if any, names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Some(authority) = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, authority)| authority.trim_end_matches('/'))
    else {
        return false;
    };
    [HOST.as_str(), "x-forwarded-host"]
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|value| value.to_str().ok())
        .any(|host| host.eq_ignore_ascii_case(authority))
}

/// Whether the browser reached pharos by HTTPS: through its public HTTPS address, or through a
/// trusted reverse proxy that says so. Its cookies are then `Secure`; a browser that comes by
/// plain HTTP (on the server itself, say) still gets a cookie that works.
fn came_by_https(state: &WebState, headers: &HeaderMap) -> bool {
    let current = state.current();
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let by_host = current.https_host.as_deref().is_some_and(|public| {
        [header("host"), header("x-forwarded-host")]
            .into_iter()
            .flatten()
            .any(|host| host.eq_ignore_ascii_case(public))
    });
    by_host || header("x-forwarded-proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

pub(crate) fn forbidden(operator: &Operator, what: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        views::message(
            Some(operator),
            "Not allowed",
            &format!("{} ({}) may not {what}.", operator.name, operator.role),
            "/admin",
        ),
    )
}

/// The operator behind a form post: signed in, the form genuine (see `check_form`), and
/// allowed what needs `permission` (`what` names it when refused); otherwise the answer.
pub(crate) async fn form_operator(
    state: &WebState,
    headers: &HeaderMap,
    client: Client,
    fields: &[(String, String)],
    permission: Permission,
    what: &str,
) -> Result<Operator, Response> {
    let operator = signed_in(state, headers, client).await?;
    if let Some(response) = check_form(&operator, headers, fields) {
        return Err(response);
    }
    if !operator.may(permission) {
        return Err(forbidden(&operator, what));
    }
    Ok(operator)
}

pub(crate) async fn login_form(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    if let Ok(_operator) = signed_in(&state, &headers, client).await {
        return redirect("/admin");
    }
    page(StatusCode::OK, views::login(None, ""))
}

/// The longest name looked up at login.
const NAME_LIMIT: usize = 64;

pub(crate) async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let address = address(&state, client, &headers);
    if !same_origin(&headers) {
        return page(
            StatusCode::FORBIDDEN,
            views::login(Some("This login form came from another site."), ""),
        );
    }
    let name: String = field(&fields, "name")
        .trim()
        .chars()
        .take(NAME_LIMIT)
        .collect();
    let password = field(&fields, "password").to_owned();
    let address_text = address.to_string();
    if let Some(wait) = state
        .login_limiter
        .wait(&address_text, &name, Instant::now())
    {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            views::login(Some(&format!("Too many failed logins for this account or from this address; try again in {minutes} min.")), &name),
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return response;
    }
    let user = match state.store.user(&name).await {
        Ok(user) => user,
        Err(error) => return store_failed(error),
    };
    let hash = user.as_ref().map_or_else(
        || crate::credentials::decoy_hash().to_owned(),
        |user| user.password_hash.clone(),
    );
    let matches =
        tokio::task::spawn_blocking(move || crate::credentials::verify_password(&hash, &password))
            .await
            .unwrap_or(false);
    let Some(user) = user.filter(|_| matches) else {
        state
            .login_limiter
            .failed(&address_text, &name, Instant::now());
        operator::record(
            &state,
            format!("login:{name}"),
            address,
            "login.failed",
            None,
            None,
        )
        .await;
        return page(
            StatusCode::UNAUTHORIZED,
            views::login(Some("Wrong name or password."), &name),
        );
    };
    state.login_limiter.succeeded(&name);
    let secret = crate::credentials::session_secret();
    let now = Utc::now();
    let session = SessionRecord {
        token_hash: crate::credentials::digest(&secret),
        user: user.name.clone(),
        csrf: crate::credentials::session_secret(),
        created_at: now,
        expires_at: now + operator::SESSION_LIFETIME,
        address: Some(address_text),
    };
    if let Err(error) = state.store.create_session(&session).await {
        return store_failed(error);
    }
    operator::record(
        &state,
        format!("user:{}", user.name),
        address,
        "login",
        None,
        None,
    )
    .await;
    let mut response = redirect("/admin");
    response.headers_mut().insert(
        SET_COOKIE,
        operator::session_set_cookie(&secret, came_by_https(&state, &headers)),
    );
    response
}

pub(crate) async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Read,
        "post this form",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    if let Credential::Session { token_hash, .. } = &operator.credential {
        if let Err(error) = state.store.delete_session(token_hash).await {
            return store_failed(error);
        }
    }
    operator.audit(&state, "logout", None, None).await;
    let mut response = redirect("/admin/login");
    response.headers_mut().insert(
        SET_COOKIE,
        operator::session_clear_cookie(came_by_https(&state, &headers)),
    );
    response
}

pub(crate) async fn overview(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let engine = state.current().engine.clone();
    let live = engine
        .live
        .read()
        .map(|live| live.clone())
        .unwrap_or_default();
    let recent = match state
        .store
        .incidents(IncidentQuery {
            since: None,
            limit: 20,
        })
        .await
    {
        Ok(incidents) => incidents
            .into_iter()
            .filter(|incident| !incident.is_open())
            .take(10)
            .collect::<Vec<_>>(),
        Err(error) => return store_failed(error),
    };
    page(
        StatusCode::OK,
        views::overview(&operator, &engine, &live, &recent),
    )
}

async fn incident_page(
    state: &WebState,
    operator: &Operator,
    id: &str,
    draft: views::Draft,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let not_found = || {
        page(
            StatusCode::NOT_FOUND,
            views::message(
                Some(operator),
                "Not found",
                "There is no such incident.",
                "/admin",
            ),
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    match state.store.incident(id).await {
        Ok(Some(incident)) => {
            let component = state
                .current()
                .engine
                .topology
                .components
                .iter()
                .find(|component| component.id == incident.component)
                .map_or_else(
                    || incident.component.to_string(),
                    |component| component.name.clone(),
                );
            let written = match state.store.postmortems(incident.started_at).await {
                Ok(mut postmortems) => postmortems.remove(&incident.id),
                Err(error) => return store_failed(error),
            };
            page(
                status,
                views::incident(
                    operator,
                    &incident,
                    &components(state),
                    &component,
                    written.as_ref(),
                    &draft,
                    problem,
                ),
            )
        }
        Ok(None) => not_found(),
        Err(error) => store_failed(error),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct TemplateQuery {
    template: Option<String>,
}

pub(crate) async fn incident(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Query(query): Query<TemplateQuery>,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let draft = views::Draft::from_template(query.template.as_deref());
    incident_page(&state, &operator, &id, draft, None, StatusCode::OK).await
}

/// What an operator's form asks of an incident.
enum Step {
    Update,
    Resolve,
    Reopen,
    Postmortem,
    FalseAlarm,
    /// Correct the update with this number (from 1).
    Edit(String),
    /// Delete the update with this number (from 1).
    Delete(String),
}

async fn incident_step(
    state: WebState,
    headers: HeaderMap,
    client: Client,
    id: String,
    fields: Vec<(String, String)>,
    step: Step,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Incidents,
        "change incidents",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let draft = views::Draft::from_fields(&fields);
    let Ok(number) = id.parse::<i64>() else {
        return incident_page(&state, &operator, &id, draft, None, StatusCode::NOT_FOUND).await;
    };
    let done = match step {
        Step::Update => {
            let read = api::read_update(
                &draft.status,
                &draft.message,
                &draft.expected_by,
                &draft.next_update_by,
            )
            .and_then(|update| {
                let title = Some(draft.title.as_str())
                    .filter(|title| !title.trim().is_empty())
                    .map(api::read_title)
                    .transpose()?;
                let impact = Some(draft.impact.as_str())
                    .filter(|impact| !impact.is_empty())
                    .map(api::read_impact)
                    .transpose()?;
                // The form shows every other component: one "not affected" is no longer.
                let affected = draft
                    .affected
                    .iter()
                    .map(|(id, value)| {
                        let value = if value.is_empty() {
                            "operational"
                        } else {
                            value
                        };
                        (id.clone(), value.to_owned())
                    })
                    .collect();
                let affected = api::read_affected(&affected, false)?;
                Ok((update, title, impact, affected))
            });
            match read {
                Ok((update, title, impact, affected)) => {
                    api::submit_update(&state, &operator, number, update, title, impact, affected)
                        .await
                        .map(|_| ())
                }
                Err(problem) => Err(ApiError::new(StatusCode::BAD_REQUEST, problem)),
            }
        }
        Step::Resolve => match api::read_message(&draft.message) {
            Ok(message) => api::submit_resolution(&state, &operator, number, message)
                .await
                .map(|_| ()),
            Err(problem) => Err(ApiError::new(StatusCode::BAD_REQUEST, problem)),
        },
        Step::Postmortem => {
            api::submit_postmortem(&state, &operator, number, field(&fields, "postmortem")).await
        }
        Step::FalseAlarm => {
            api::submit_false_alarm(&state, &operator, number, field(&fields, "reason"))
                .await
                .map(|_| ())
        }
        Step::Edit(update) | Step::Delete(update) if update.parse::<usize>().is_err() => Err(
            ApiError::new(StatusCode::NOT_FOUND, "there is no such update"),
        ),
        Step::Edit(update) => match api::read_message(&draft.message) {
            Ok(message) => {
                api::submit_edit(
                    &state,
                    &operator,
                    number,
                    update.parse().unwrap_or(0),
                    Some(message),
                )
                .await
            }
            Err(problem) => Err(ApiError::new(StatusCode::BAD_REQUEST, problem)),
        },
        Step::Delete(update) => {
            api::submit_edit(&state, &operator, number, update.parse().unwrap_or(0), None).await
        }
        Step::Reopen => match api::read_update(
            &draft.status,
            &draft.message,
            &draft.expected_by,
            &draft.next_update_by,
        ) {
            Ok(update) => api::submit_reopening(&state, &operator, number, update)
                .await
                .map(|_| ()),
            Err(problem) => Err(ApiError::new(StatusCode::BAD_REQUEST, problem)),
        },
    };
    match done {
        Ok(()) => redirect(&format!("/admin/incidents/{number}")),
        Err(ApiError {
            status, message, ..
        }) => incident_page(&state, &operator, &id, draft, Some(&message), status).await,
    }
}

pub(crate) async fn post_update(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::Update).await
}

pub(crate) async fn resolve(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::Resolve).await
}

pub(crate) async fn reopen(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::Reopen).await
}

pub(crate) async fn postmortem(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::Postmortem).await
}

pub(crate) async fn false_alarm(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::FalseAlarm).await
}

pub(crate) async fn edit_update(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path((id, number)): Path<(String, String)>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::Edit(number)).await
}

pub(crate) async fn delete_update(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path((id, number)): Path<(String, String)>,
    Form(fields): Fields,
) -> Response {
    incident_step(state, headers, client, id, fields, Step::Delete(number)).await
}

fn components(state: &WebState) -> Vec<(String, String)> {
    state
        .current()
        .engine
        .topology
        .components
        .iter()
        .map(|component| (component.id.to_string(), component.name.clone()))
        .collect()
}

pub(crate) async fn new_incident(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Query(query): Query<TemplateQuery>,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    if !operator.may(Permission::Incidents) {
        return forbidden(&operator, "open incidents");
    }
    let draft = views::Draft::from_template(query.template.as_deref());
    page(
        StatusCode::OK,
        views::new_incident(&operator, &components(&state), &draft, None),
    )
}

pub(crate) async fn open_incident(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Incidents,
        "open incidents",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let draft = views::Draft::from_fields(&fields);
    let declaration = (|| {
        let affected = draft
            .affected
            .iter()
            .filter(|(id, value)| !value.is_empty() && id.as_str() != draft.component.trim())
            .cloned()
            .collect();
        Ok::<_, String>(pharos_core::Declaration {
            also: api::read_affected(&affected, true)?,
            component: pharos_core::ComponentId::new(draft.component.trim()),
            title: api::read_title(&draft.title)?,
            impact: api::read_impact(&draft.impact)?,
            update: api::read_update(
                &draft.status,
                &draft.message,
                &draft.expected_by,
                &draft.next_update_by,
            )?,
            by: operator.name.clone(),
        })
    })();
    let result = match declaration {
        Ok(declaration) => api::submit_declaration(&state, &operator, declaration).await,
        Err(problem) => Err(ApiError::new(StatusCode::BAD_REQUEST, problem)),
    };
    match result {
        Ok(incident) => redirect(&format!("/admin/incidents/{}", incident.id)),
        Err(ApiError {
            status, message, ..
        }) => page(
            status,
            views::new_incident(&operator, &components(&state), &draft, Some(&message)),
        ),
    }
}

async fn tokens_page(
    state: &WebState,
    operator: &Operator,
    new_token: Option<&str>,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let owner = (!operator.may(Permission::Admin)).then_some(operator.name.as_str());
    match state.store.api_tokens(owner).await {
        Ok(tokens) => page(status, views::tokens(operator, &tokens, new_token, problem)),
        Err(error) => store_failed(error),
    }
}

pub(crate) async fn tokens(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    tokens_page(&state, &operator, None, None, StatusCode::OK).await
}

/// The longest description of a token.
const LABEL_LIMIT: usize = 100;

pub(crate) async fn create_token(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Read,
        "post this form",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let label = field(&fields, "label").trim().to_owned();
    if label.is_empty()
        || label.chars().count() > LABEL_LIMIT
        || label.chars().any(char::is_control)
    {
        let problem = format!("Say what the token is for in 1 to {LABEL_LIMIT} characters.");
        return tokens_page(
            &state,
            &operator,
            None,
            Some(&problem),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let words: Vec<&str> = fields
        .iter()
        .filter(|(key, _)| key == "scope")
        .map(|(_, value)| value.as_str())
        .collect();
    let scopes = match Permission::parse_list(&words.join(",")) {
        Ok(scopes) => scopes,
        Err(problem) => {
            return tokens_page(
                &state,
                &operator,
                None,
                Some(&problem),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    if let Some(scope) = scopes.iter().find(|scope| !operator.role.allows(**scope)) {
        let problem = format!(
            "A {} cannot give a token the `{scope}` scope.",
            operator.role
        );
        return tokens_page(
            &state,
            &operator,
            None,
            Some(&problem),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let secret = crate::credentials::api_token();
    let digest = crate::credentials::digest(&secret);
    let record = ApiTokenRecord {
        id: digest[..12].to_owned(),
        user: operator.name.clone(),
        label: label.clone(),
        token_hash: digest,
        scopes: scopes.clone(),
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    if let Err(error) = state.store.create_api_token(&record).await {
        return store_failed(error);
    }
    operator
        .audit(
            &state,
            "token.create",
            Some(format!("token {}", record.id)),
            Some(format!("{label} ({})", Permission::join(&scopes))),
        )
        .await;
    tokens_page(&state, &operator, Some(&secret), None, StatusCode::CREATED).await
}

pub(crate) async fn revoke_token(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Read,
        "post this form",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let owner = (!operator.may(Permission::Admin)).then_some(operator.name.as_str());
    match state.store.revoke_api_token(&id, owner, Utc::now()).await {
        Ok(true) => {
            operator
                .audit(&state, "token.revoke", Some(format!("token {id}")), None)
                .await;
            redirect("/admin/tokens")
        }
        Ok(false) => {
            tokens_page(
                &state,
                &operator,
                None,
                Some("There is no such token of yours, or it is revoked already."),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(error) => store_failed(error),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct AuditQuery {
    before: Option<String>,
}

/// Entries per page of the audit log.
const AUDIT_PAGE: u32 = 100;

pub(crate) async fn audit(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Query(query): Query<AuditQuery>,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let before = query
        .before
        .as_deref()
        .and_then(|before| before.parse::<i64>().ok());
    match state.store.audit_log(AUDIT_PAGE, before).await {
        Ok(entries) => {
            let older = (entries.len() == AUDIT_PAGE as usize)
                .then(|| entries.last().map(|entry| entry.id))
                .flatten();
            page(StatusCode::OK, views::audit(&operator, &entries, older))
        }
        Err(error) => store_failed(error),
    }
}

async fn maintenance_page(
    state: &WebState,
    operator: &Operator,
    request: &crate::maintenance_api::WindowRequest,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let windows = crate::maintenance_api::windows(state);
    page(
        status,
        views::maintenance(operator, &windows, &components(state), request, problem),
    )
}

pub(crate) async fn maintenance(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let request = crate::maintenance_api::WindowRequest {
        duration: Some("30m".into()),
        ..Default::default()
    };
    maintenance_page(&state, &operator, &request, None, StatusCode::OK).await
}

pub(crate) async fn schedule_maintenance(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Incidents,
        "schedule maintenance",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let text =
        |name: &str| Some(field(&fields, name).to_owned()).filter(|value| !value.trim().is_empty());
    let request = crate::maintenance_api::WindowRequest {
        title: field(&fields, "title").to_owned(),
        components: fields
            .iter()
            .filter(|(key, _)| key == "component")
            .map(|(_, value)| value.clone())
            .collect(),
        start: field(&fields, "start").to_owned(),
        duration: text("duration"),
        end: None,
        every: text("every"),
        message: text("message"),
    };
    let result = match crate::maintenance_api::read_window(&request) {
        Ok(window) => crate::maintenance_api::submit_window(&state, &operator, window).await,
        Err(problem) => Err(ApiError::new(StatusCode::BAD_REQUEST, problem)),
    };
    match result {
        Ok(_) => redirect("/admin/maintenance"),
        Err(ApiError {
            status, message, ..
        }) => maintenance_page(&state, &operator, &request, Some(&message), status).await,
    }
}

pub(crate) async fn cancel_maintenance(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(id): Path<String>,
    Form(fields): Fields,
) -> Response {
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Incidents,
        "cancel maintenance",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    match crate::maintenance_api::submit_cancellation(&state, &operator, &id).await {
        Ok(_) => redirect("/admin/maintenance"),
        Err(ApiError {
            status, message, ..
        }) => {
            let request = crate::maintenance_api::WindowRequest::default();
            maintenance_page(&state, &operator, &request, Some(&message), status).await
        }
    }
}
