//! Accounts in the admin: the users page (`/admin/users`, admins only) lists every operator
//! with their role, with forms to add one, change a role, give a new password and remove
//! one (passwords made here are generated and shown once; an admin cannot demote or remove
//! themselves, so the last admin stays); `/admin/password` lets anyone signed in change their
//! own. A changed role or password, or a removal, ends the user's sessions at once.

use crate::admin_ui::{
    address, field, forbidden, form_operator, page, redirect, signed_in, store_failed, Client,
    Fields,
};
use crate::admin_views::{layout, message};
use crate::credentials;
use crate::operator::Operator;
use crate::pages::time;
use crate::router::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use pharos_core::{Permission, Role};
use pharos_store::{StoreError, UserRecord};

/// A password's hash, made off the async threads (argon2id takes a while by design).
async fn hashed(password: &str) -> Option<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || credentials::hash_password(&password))
        .await
        .ok()
}

fn hashing_failed(operator: &Operator) -> Response {
    tracing::error!("admin: a password could not be hashed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        message(
            Some(operator),
            "Not saved",
            "The password could not be prepared; nothing was changed. Try again.",
            "/admin",
        ),
    )
}

/// What the page says after a step: a problem, or a password to hand over.
#[derive(Default)]
struct Outcome<'a> {
    problem: Option<&'a str>,
    password: Option<(&'a str, &'a str)>,
}

fn view(operator: &Operator, users: &[UserRecord], outcome: Outcome<'_>) -> Markup {
    let role_options = |selected: Role| {
        html! {
            @for role in Role::ALL {
                option value=(role.as_str()) selected[role == selected] { (role.as_str()) }
            }
        }
    };
    layout(
        "Users",
        Some(operator),
        html! {
            @if let Some((name, password)) = outcome.password {
                div.notice role="status" {
                    p { "The password of " b { (name) } ", shown this once: hand it over now." }
                    p.secret { (password) }
                }
            }
            @if let Some(problem) = outcome.problem { div.problem role="alert" { (problem) } }
            section.card {
                h2 { "Add a user" }
                form.stack method="post" action="/admin/users" {
                    input type="hidden" name="csrf" value=(operator.csrf());
                    label for="name" { "Name (letters, digits, . - _ @)" }
                    input #name name="name" required maxlength="64" autocomplete="off";
                    label for="role" { "Role" }
                    select #role name="role" { (role_options(Role::Viewer)) }
                    button type="submit" { "Add user" }
                }
            }
            section.card {
                h2 { "Users (" (users.len()) ")" }
                div.scroll {
                    table {
                        tr { th { "Name" } th { "Role" } th { "Password set" } th { "Added" } th { "" } }
                        @for user in users {
                            @let base = format!("/admin/users/{}", user.name);
                            tr {
                                td { (user.name) }
                                td {
                                    @if user.name == operator.name {
                                        (user.role) " (you)"
                                    } @else {
                                        form.inline method="post" action=(format!("{base}/role")) {
                                            input type="hidden" name="csrf" value=(operator.csrf());
                                            select name="role" aria-label=(format!("Role of {}", user.name)) { (role_options(user.role)) }
                                            " "
                                            button.link type="submit" { "Change" }
                                        }
                                    }
                                }
                                td { (time(user.password_changed_at)) }
                                td { (time(user.created_at)) }
                                td {
                                    @if user.name != operator.name {
                                        form.inline method="post" action=(format!("{base}/password")) {
                                            input type="hidden" name="csrf" value=(operator.csrf());
                                            button.link type="submit" { "New password" }
                                        }
                                        " · "
                                        form.inline method="post" action=(format!("{base}/remove")) {
                                            input type="hidden" name="csrf" value=(operator.csrf());
                                            button.link type="submit" { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

async fn users_page(
    state: &WebState,
    operator: &Operator,
    outcome: Outcome<'_>,
    status: StatusCode,
) -> Response {
    match state.store.users().await {
        Ok(users) => page(status, view(operator, &users, outcome)),
        Err(error) => store_failed(error),
    }
}

async fn refused(
    state: &WebState,
    operator: &Operator,
    status: StatusCode,
    problem: &str,
) -> Response {
    users_page(
        state,
        operator,
        Outcome {
            problem: Some(problem),
            ..Outcome::default()
        },
        status,
    )
    .await
}

/// `GET /admin/users`.
pub(crate) async fn users(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    let operator = match signed_in(&state, &headers, client).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    if !operator.may(Permission::Admin) {
        return forbidden(&operator, "manage users");
    }
    users_page(&state, &operator, Outcome::default(), StatusCode::OK).await
}

async fn admin(
    state: &WebState,
    headers: &HeaderMap,
    client: Client,
    fields: &[(String, String)],
) -> Result<Operator, Response> {
    form_operator(
        state,
        headers,
        client,
        fields,
        Permission::Admin,
        "manage users",
    )
    .await
}

fn role_of(fields: &[(String, String)]) -> Option<Role> {
    Role::parse(field(fields, "role"))
}

/// `POST /admin/users`: adds a user with a generated password, shown once.
pub(crate) async fn add(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let operator = match admin(&state, &headers, client, &fields).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let name = field(&fields, "name").trim();
    if !credentials::is_user_name(name) {
        return refused(
            &state,
            &operator,
            StatusCode::BAD_REQUEST,
            "A user's name is 1 to 64 letters, digits, `.`, `-`, `_` or `@`.",
        )
        .await;
    }
    let Some(role) = role_of(&fields) else {
        return refused(&state, &operator, StatusCode::BAD_REQUEST, "Choose a role.").await;
    };
    let password = credentials::generate_password();
    let Some(password_hash) = hashed(&password).await else {
        return hashing_failed(&operator);
    };
    let now = Utc::now();
    let user = UserRecord {
        name: name.to_owned(),
        password_hash,
        role,
        created_at: now,
        password_changed_at: now,
    };
    match state.store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let problem = format!("There is a user `{name}` already.");
            return refused(&state, &operator, StatusCode::CONFLICT, &problem).await;
        }
        Err(error) => return store_failed(error),
    }
    operator
        .audit(
            &state,
            "user.add",
            Some(format!("user {name}")),
            Some(format!("role {role}")),
        )
        .await;
    users_page(
        &state,
        &operator,
        Outcome {
            password: Some((name, &password)),
            ..Outcome::default()
        },
        StatusCode::CREATED,
    )
    .await
}

/// The other user a step is about, or the page saying why not.
async fn other_user(
    state: &WebState,
    operator: &Operator,
    name: &str,
) -> Result<UserRecord, Response> {
    if name == operator.name {
        return Err(refused(
            state,
            operator,
            StatusCode::CONFLICT,
            "Not on yourself: another admin changes your role, password or account.",
        )
        .await);
    }
    match state.store.user(name).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(refused(
            state,
            operator,
            StatusCode::NOT_FOUND,
            "There is no such user.",
        )
        .await),
        Err(error) => Err(store_failed(error)),
    }
}

/// `POST /admin/users/{name}/role`: a new role, which ends the user's sessions.
pub(crate) async fn change_role(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(name): Path<String>,
    Form(fields): Fields,
) -> Response {
    let operator = match admin(&state, &headers, client, &fields).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let Some(role) = role_of(&fields) else {
        return refused(&state, &operator, StatusCode::BAD_REQUEST, "Choose a role.").await;
    };
    let user = match other_user(&state, &operator, &name).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    if let Err(error) = state
        .store
        .update_user(&name, &user.password_hash, role, Utc::now())
        .await
    {
        return store_failed(error);
    }
    operator
        .audit(
            &state,
            "user.role",
            Some(format!("user {name}")),
            Some(format!("role {} → {role}", user.role)),
        )
        .await;
    redirect("/admin/users")
}

/// `POST /admin/users/{name}/password`: a new generated password, shown once; the user's
/// sessions end.
pub(crate) async fn new_password(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(name): Path<String>,
    Form(fields): Fields,
) -> Response {
    let operator = match admin(&state, &headers, client, &fields).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let user = match other_user(&state, &operator, &name).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let password = credentials::generate_password();
    let Some(password_hash) = hashed(&password).await else {
        return hashing_failed(&operator);
    };
    if let Err(error) = state
        .store
        .update_user(&name, &password_hash, user.role, Utc::now())
        .await
    {
        return store_failed(error);
    }
    operator
        .audit(&state, "user.passwd", Some(format!("user {name}")), None)
        .await;
    users_page(
        &state,
        &operator,
        Outcome {
            password: Some((&name, &password)),
            ..Outcome::default()
        },
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/users/{name}/remove`: the user goes, with their sessions and tokens.
pub(crate) async fn remove(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Path(name): Path<String>,
    Form(fields): Fields,
) -> Response {
    let operator = match admin(&state, &headers, client, &fields).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    if let Err(response) = other_user(&state, &operator, &name).await {
        return response;
    }
    if let Err(error) = state.store.remove_user(&name).await {
        return store_failed(error);
    }
    operator
        .audit(&state, "user.remove", Some(format!("user {name}")), None)
        .await;
    redirect("/admin/users")
}

fn password_form(operator: &Operator, problem: Option<&str>) -> Markup {
    layout(
        "Your password",
        Some(operator),
        html! {
            @if let Some(problem) = problem { div.problem role="alert" { (problem) } }
            section.card {
                h2 { "Change your password" }
                p.small { "Every session of yours ends, this one too: log in again with the new password." }
                form.stack method="post" action="/admin/password" {
                    input type="hidden" name="csrf" value=(operator.csrf());
                    input type="hidden" name="name" value=(operator.name) autocomplete="username";
                    label for="current" { "Current password" }
                    input #current name="current" type="password" required autocomplete="current-password";
                    label for="new" { "New password (at least " (credentials::PASSWORD_MIN) " characters)" }
                    input #new name="new" type="password" required autocomplete="new-password" minlength=(credentials::PASSWORD_MIN);
                    label for="again" { "New password again" }
                    input #again name="again" type="password" required autocomplete="new-password";
                    button type="submit" { "Change password" }
                }
            }
        },
    )
}

/// `GET /admin/password`.
pub(crate) async fn password_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
) -> Response {
    match signed_in(&state, &headers, client).await {
        Ok(operator) => page(StatusCode::OK, password_form(&operator, None)),
        Err(response) => response,
    }
}

/// `POST /admin/password`: the current password, then the new one twice. A wrong current
/// password counts as a failed login (the same limits apply); a change ends every session of
/// the user and leads to the login page.
pub(crate) async fn change_password(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Client,
    Form(fields): Fields,
) -> Response {
    let from = address(&state, client, &headers).to_string();
    let operator = match form_operator(
        &state,
        &headers,
        client,
        &fields,
        Permission::Read,
        "change a password",
    )
    .await
    {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    let refuse =
        |status: StatusCode, problem: &str| page(status, password_form(&operator, Some(problem)));
    if let Some(wait) = state
        .login_limiter
        .wait(&from, &operator.name, std::time::Instant::now())
    {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many wrong passwords; try again in {minutes} min."),
        );
    }
    let user = match state.store.user(&operator.name).await {
        Ok(Some(user)) => user,
        Ok(None) => return redirect("/admin/login"),
        Err(error) => return store_failed(error),
    };
    let (hash, current) = (
        user.password_hash.clone(),
        field(&fields, "current").to_owned(),
    );
    let matches =
        tokio::task::spawn_blocking(move || credentials::verify_password(&hash, &current))
            .await
            .unwrap_or(false);
    if !matches {
        state
            .login_limiter
            .failed(&from, &operator.name, std::time::Instant::now());
        operator
            .audit(
                &state,
                "login.failed",
                Some(format!("user {}", operator.name)),
                Some("wrong current password on the password form".into()),
            )
            .await;
        return refuse(StatusCode::UNAUTHORIZED, "The current password is wrong.");
    }
    let new = field(&fields, "new");
    if let Some(problem) = credentials::password_problem(new) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("The new password is refused: {problem}."),
        );
    }
    if new != field(&fields, "again") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The new password and its repetition differ.",
        );
    }
    let Some(password_hash) = hashed(new).await else {
        return hashing_failed(&operator);
    };
    if let Err(error) = state
        .store
        .update_user(&operator.name, &password_hash, user.role, Utc::now())
        .await
    {
        return store_failed(error);
    }
    operator
        .audit(
            &state,
            "user.passwd",
            Some(format!("user {}", operator.name)),
            Some("their own".into()),
        )
        .await;
    redirect("/admin/login")
}
