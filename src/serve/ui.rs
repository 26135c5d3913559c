//! Server-rendered pages (maud, compiled in). The read-only pages work without
//! JavaScript; the upload page carries a small plain script, embedded in the binary.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::AppState;
use super::auth::{self, Caller};
use crate::size::human;

const STYLE: &str = include_str!("assets/style.css");
const UPLOAD_JS: &str = include_str!("assets/upload.js");

/// The pages' routes.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/upload", get(upload_page))
        .route("/assets/upload.js", get(upload_js))
        .route("/assets/style.css", get(style))
}

fn page(title: &str, caller: &Caller, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · ferry" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header {
                    a.brand href="/" { "ferry" }
                    nav {
                        a href="/" { "Status" }
                        a href="/upload" { "Upload volumes" }
                        a href="/api/v1/openapi.json" { "API" }
                        @if let Caller::Browser { csrf, .. } = caller {
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Log out" }
                            }
                        } @else {
                            a href="/login" { "Log in" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The caller, or `None` when the pages need a login first.
fn viewer(st: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let c = auth::identify(headers, &st.token, &st.sessions);
    (c.known() || st.public_ui).then_some(c)
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css")], STYLE).into_response()
}

async fn upload_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript")], UPLOAD_JS).into_response()
}

async fn login_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let c = auth::identify(&headers, &st.token, &st.sessions);
    Html(
        page("Log in", &c, html! {
            h1 { "Log in" }
            p { "Paste the admin token: the file named when " code { "ferry serve" } " started (by default " code { "STORE/admin-token" } ")." }
            form method="post" action="/login" {
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="current-password" required;
                button type="submit" { "Log in" }
            }
        })
        .into_string(),
    )
    .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(st): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    if !st.token.matches(f.token.trim()) {
        return (
            StatusCode::FORBIDDEN,
            Html(
                page(
                    "Log in",
                    &Caller::Anonymous,
                    html! {
                        h1 { "Log in" }
                        p.error { "That is not the admin token." }
                        p { a href="/login" { "Try again" } }
                    },
                )
                .into_string(),
            ),
        )
            .into_response();
    }
    let (id, _) = st.sessions.create();
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, auth::session_cookie(&id, st.tls)),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let c = auth::identify(&headers, &st.token, &st.sessions);
    if !c.may_change(Some(&f.csrf)) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response();
    }
    if let Caller::Browser { session, .. } = c {
        st.sessions.remove(&session);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, auth::clear_cookie()),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

async fn home(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(c) = viewer(&st, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let st2 = st.clone();
    let status = tokio::task::spawn_blocking(move || {
        let store = crate::store::Store::open(&st2.store, crate::store::Access::Read, &|_| {})
            .map_err(|e| e.to_string())?;
        crate::status::status(&store).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let s = match status {
        Ok(s) => s,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(page("Status", &c, html! { p.error { (e) } }).into_string()),
            )
                .into_response();
        }
    };
    let jobs = st.uploads.job_views();
    let body = html! {
        h1 { "Status" }
        @if s.repositories.is_empty() && s.staged.is_empty() {
            p { "Nothing imported yet. " a href="/upload" { "Upload the volumes of a bundle" } "." }
        }
        @if !s.staged.is_empty() {
            section #staged {
                h2 { "Bundles waiting for volumes" }
                table {
                    tr { th { "Bundle" } th { "Volumes staged" } th { "Still needed" } }
                    @for b in &s.staged {
                        tr { td { code { (&b.bundle[..16.min(b.bundle.len())]) } }
                             td { (join(&b.volumes)) } td { (join(&b.remaining)) } }
                    }
                }
            }
        }
        section #repositories {
            h2 { "Repositories" }
            table {
                tr { th { "Organization" } th { "Product" } th { "Repository" } th { "Version" } th.num { "Packages" } th.num { "Size" } th { "Bundle" } th { "URL" } }
                @for r in &s.repositories {
                    tr {
                        td { (r.organization) } td { (r.product) } td { (r.name) " " small { "(" (r.label) ")" } }
                        td { (r.version) } td.num { (r.packages) } td.num { (human(r.bytes.max(0) as u64)) }
                        td { code { (&r.bundle[..16.min(r.bundle.len())]) } }
                        td { a href={ "/repos/" (r.published) "/repodata/repomd.xml" } { "/repos/" (r.published) } }
                    }
                }
            }
        }
        @if !s.content_views.is_empty() {
            section #views {
                h2 { "Content-view versions" }
                table {
                    tr { th { "Organization" } th { "View" } th { "Version" } th { "Repositories" } th { "Bundle" } th { "Imported" } }
                    @for v in &s.content_views {
                        tr { td { (v.organization) } td { (v.name) " " small { "(" (v.label) ")" } } td { (v.version) }
                             td { @for (r, n) in &v.repositories { (r) " (" (n) ") " } }
                             td { code { (&v.bundle[..16.min(v.bundle.len())]) } } td { (v.imported) } }
                    }
                }
            }
        }
        section #bundles {
            h2 { "Bundles imported" }
            table {
                tr { th { "Bundle" } th { "Organization" } th { "Signer" } th.num { "Sequence" } th { "Base" } th { "Created" } th { "Imported" } th.num { "Volumes" } }
                @for b in &s.bundles {
                    tr { td { code { (&b.id[..16.min(b.id.len())]) } } td { (b.organization) } td { code { (b.signer) } }
                         td.num { (b.sequence) } td { @if let Some(base) = &b.base { code { (&base[..16.min(base.len())]) } } @else { "full" } }
                         td { (b.created) } td { (b.imported) } td.num { (b.volumes) } }
                }
            }
        }
        @if !jobs.is_empty() {
            section #jobs {
                h2 { "Uploads since the server started" }
                table {
                    tr { th { "Job" } th { "Created" } th { "State" } th { "Result" } th { "Detail" } }
                    @for j in &jobs {
                        tr { td { code { (j.id) } } td { (j.created) } td { (j.state) }
                             td { (j.result.as_deref().unwrap_or("")) }
                             td { (j.error.as_deref().unwrap_or("")) @for l in &j.log { div { (l) } } } }
                    }
                }
            }
        }
        section #keys {
            h2 { "Trusted keys" }
            ul { @for k in &s.trusted_keys { li { code { (k) } } } }
        }
        section #history {
            h2 { "History" }
            table {
                tr { th { "Time" } th { "Event" } th { "Bundle" } th { "Detail" } }
                @for h in s.history.iter().rev().take(50) {
                    tr { td { (h.time) } td { (h.event) }
                         td { @if let Some(b) = &h.bundle { code { (&b[..16.min(b.len())]) } } }
                         td { (h.detail) } }
                }
            }
        }
    };
    Html(page("Status", &c, body).into_string()).into_response()
}

fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

async fn upload_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let c = auth::identify(&headers, &st.token, &st.sessions);
    let Caller::Browser { csrf, .. } = &c else {
        return Redirect::to("/login").into_response();
    };
    let body = html! {
        h1 { "Upload volumes" }
        p { "Choose the volume directories on the stick (" code { "vol-01" } ", " code { "vol-02" } ", …) or the directory that holds them, or drop them here. Each volume is checked as it arrives: its signature first, then every file against its signed SHA-256. An interrupted upload resumes when you choose the same volumes again." }
        div #drop data-csrf=(csrf) {
            p { "Drop volume directories here, or:" }
            input #picker type="file" webkitdirectory multiple;
        }
        div #volumes {}
        p #result {}
        noscript { p.error { "Uploading needs JavaScript; " code { "ferry push" } " does the same from a shell." } }
        script src="/assets/upload.js" {}
    };
    Html(page("Upload", &c, body).into_string()).into_response()
}
