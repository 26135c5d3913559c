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
use super::api::{Need, internal, on_store};
use super::auth::{self, Caller};
use crate::size::human;

const STYLE: &str = include_str!("assets/style.css");
const UPLOAD_JS: &str = include_str!("assets/upload.js");

/// The pages' routes.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .merge(login_routes::<super::Shared>())
        .route("/upload", get(upload_page))
        .route("/repository", get(repository_page))
        .route("/keys", get(keys_page).post(keys_add))
        .route("/keys/remove", post(keys_remove))
        .route("/assets/upload.js", get(upload_js))
}

/// The store server's navigation.
const STORE_NAV: &[(&str, &str)] = &[
    ("/", "Status"),
    ("/upload", "Upload volumes"),
    ("/keys", "Trusted keys"),
    ("/api/v1/openapi.json", "API"),
];

fn page(title: &str, caller: &Caller, body: Markup) -> Markup {
    page_nav(title, caller, STORE_NAV, body)
}

/// A page with the given navigation links.
pub fn page_nav(title: &str, caller: &Caller, nav: &[(&str, &str)], body: Markup) -> Markup {
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
                        @for (href, label) in nav { a href=(href) { (label) } }
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

/// What the login pages need of a server's state.
pub trait Gate: Send + Sync + 'static {
    /// The admin token.
    fn token(&self) -> &auth::Token;
    /// Browser sessions.
    fn sessions(&self) -> &auth::Sessions;
    /// Served over TLS (cookies are then Secure).
    fn tls(&self) -> bool;
}

impl Gate for super::Shared {
    fn token(&self) -> &auth::Token {
        &self.token
    }
    fn sessions(&self) -> &auth::Sessions {
        &self.sessions
    }
    fn tls(&self) -> bool {
        self.tls
    }
}

/// The login and logout routes for a server whose state is `Arc<G>`.
pub fn login_routes<G: Gate>() -> axum::Router<std::sync::Arc<G>> {
    axum::Router::new()
        .route("/login", get(login_page::<G>).post(login::<G>))
        .route("/logout", post(logout::<G>))
        .route("/assets/style.css", get(style))
}

async fn login_page<G: Gate>(State(st): State<std::sync::Arc<G>>, headers: HeaderMap) -> Response {
    let c = auth::identify(&headers, st.token(), st.sessions());
    Html(
        page_nav("Log in", &c, &[], html! {
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

async fn login<G: Gate>(State(st): State<std::sync::Arc<G>>, Form(f): Form<LoginForm>) -> Response {
    if !st.token().matches(f.token.trim()) {
        return (
            StatusCode::FORBIDDEN,
            Html(
                page_nav(
                    "Log in",
                    &Caller::Anonymous,
                    &[],
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
    let (id, _) = st.sessions().create();
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, auth::session_cookie(&id, st.tls())),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout<G: Gate>(
    State(st): State<std::sync::Arc<G>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let c = auth::identify(&headers, st.token(), st.sessions());
    if !c.may_change(Some(&f.csrf)) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response();
    }
    if let Caller::Browser { session, .. } = c {
        st.sessions().remove(&session);
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
    let status = reading(&st, |store| {
        crate::status::status(store).map_err(|e| e.to_string())
    })
    .await;
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
                        td { (r.organization) } td { (r.product) }
                        td { a href={ "/repository?path=" (r.published) } { (r.name) } " " small { "(" (r.label) ")" } }
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
                    tr { td { code { (&b.bundle[..16.min(b.bundle.len())]) } } td { (b.organization) } td { code { (b.signer) } }
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

/// Run `f` on the store (read-only) in a blocking task; the message of a failure.
async fn reading<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&crate::store::Store) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    on_store(st.store.clone(), Need::Read, |store| {
        f(store).map_err(internal)
    })
    .await
    .map_err(|f| f.1)
}

/// Change the store in a blocking task (without waiting for an import that holds it).
async fn changing<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&crate::store::Store) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    on_store(st.store.clone(), Need::Change, |store| {
        f(store).map_err(internal)
    })
    .await
    .map_err(|f| f.1)
}

#[derive(Deserialize)]
struct RepoQuery {
    path: String,
    q: Option<String>,
}

/// Most packages listed on one page (the search narrows the list).
const PACKAGES_SHOWN: usize = 500;

async fn repository_page(
    State(st): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<RepoQuery>,
) -> Response {
    let Some(c) = viewer(&st, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let path = q.path.clone();
    let contents = reading(&st, move |store| {
        crate::contents::contents(store, &path).map_err(|e| e.to_string())
    })
    .await;
    let contents = match contents {
        Ok(x) => x,
        Err(e) => {
            return (
                StatusCode::NOT_FOUND,
                Html(page("Repository", &c, html! { p.error { (e) } }).into_string()),
            )
                .into_response();
        }
    };
    let query = q.q.clone().unwrap_or_default();
    let matching: Vec<&crate::contents::PackageRow> = contents
        .packages
        .iter()
        .filter(|p| crate::contents::matches(p, &query))
        .collect();
    let body = html! {
        h1 { "Repository " code { (q.path) } }
        p { "dnf base URL: " a href={ "/repos/" (q.path) "/repodata/repomd.xml" } { code { "/repos/" (q.path) } } }
        h2 { "Packages (" (contents.packages.len()) ")" }
        form method="get" action="/repository" {
            input type="hidden" name="path" value=(q.path);
            label for="q" { "Search " }
            input #q type="search" name="q" value=(query) placeholder="name, version or arch";
            button type="submit" { "Search" }
        }
        @if matching.len() > PACKAGES_SHOWN {
            p { (matching.len()) " match; the first " (PACKAGES_SHOWN) " are shown: narrow the search." }
        }
        table #packages {
            tr { th { "Name" } th { "Version" } th { "Arch" } th.num { "Size" } }
            @for p in matching.iter().take(PACKAGES_SHOWN) {
                tr { td { a href={ "/repos/" (q.path) "/" (p.location) } { (p.name) } } td { (p.evr) } td { (p.arch) }
                     td.num { (p.size.map(human).unwrap_or_default()) } }
            }
        }
        h2 { "Errata (" (contents.errata.len()) ")" }
        @if contents.errata.is_empty() {
            p { "This repository carries no updateinfo." }
        } @else {
            table #errata {
                tr { th { "Advisory" } th { "Type" } th { "Severity" } th { "Issued" } th { "Title" } th { "Packages" } }
                @for e in &contents.errata {
                    tr { td { (e.id) } td { (e.kind) } td { (e.severity.as_deref().unwrap_or("")) }
                         td { (e.issued.as_deref().unwrap_or("")) } td { (e.title) }
                         td { @for p in &e.packages { div { (p) } } } }
                }
            }
        }
    };
    Html(page("Repository", &c, body).into_string()).into_response()
}

async fn keys_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(c) = viewer(&st, &headers) else {
        return Redirect::to("/login").into_response();
    };
    keys_view(&st, &c, None).await
}

async fn keys_view(st: &AppState, c: &Caller, message: Option<Markup>) -> Response {
    let keys = reading(st, |store| {
        crate::trust::list(store).map_err(|e| e.to_string())
    })
    .await;
    let body = html! {
        h1 { "Trusted keys" }
        @if let Some(m) = message { (m) }
        p { "Volumes are accepted only when signed by one of these keys." }
        @match &keys {
            Err(e) => p.error { (e) },
            Ok(keys) => table #keys {
                tr { th { "Key id" } th { "Comment" } th { "Added" } th {} }
                @for k in keys {
                    tr { td { code { (k.key_id) } } td { (k.comment) } td { (k.added) }
                         td { @if let Caller::Browser { csrf, .. } = c {
                             form.inline method="post" action="/keys/remove" {
                                 input type="hidden" name="csrf" value=(csrf);
                                 input type="hidden" name="key_id" value=(k.key_id);
                                 button type="submit" { "Stop trusting" }
                             } } } }
                }
            },
        }
        @if let Caller::Browser { csrf, .. } = c {
            h2 { "Trust another key" }
            p { "Paste the signer's public key file (" code { "NAME.pub" } "). Check its key id with the signer before you trust it." }
            form method="post" action="/keys" {
                input type="hidden" name="csrf" value=(csrf);
                textarea name="key" rows="3" cols="80" required {}
                div { button type="submit" { "Trust this key" } }
            }
        }
    };
    Html(page("Trusted keys", c, body).into_string()).into_response()
}

#[derive(Deserialize)]
struct KeyForm {
    csrf: String,
    key: String,
}

async fn keys_add(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<KeyForm>,
) -> Response {
    let c = auth::identify(&headers, &st.token, &st.sessions);
    if !c.may_change(Some(&f.csrf)) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response();
    }
    let text = f.key.replace("\r\n", "\n");
    let text = if text.ends_with('\n') {
        text
    } else {
        format!("{text}\n")
    };
    let r = changing(&st, move |store| {
        crate::trust::add(store, &text).map_err(|e| e.to_string())
    })
    .await;
    let msg = match r {
        Ok(a) => {
            html! { p.ok #added { "Now trusting key " code { (a.key_id) } " (" (a.comment) ")." } }
        }
        Err(e) => html! { p.error { (e) } },
    };
    keys_view(&st, &c, Some(msg)).await
}

#[derive(Deserialize)]
struct KeyRemoveForm {
    csrf: String,
    key_id: String,
}

async fn keys_remove(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<KeyRemoveForm>,
) -> Response {
    let c = auth::identify(&headers, &st.token, &st.sessions);
    if !c.may_change(Some(&f.csrf)) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response();
    }
    let id = f.key_id.clone();
    let r = changing(&st, move |store| {
        crate::trust::remove(store, &id).map_err(|e| e.to_string())
    })
    .await;
    let msg = match r {
        Ok(true) => html! { p.ok { "No longer trusting key " code { (f.key_id) } "." } },
        Ok(false) => html! { p.error { "Key " code { (f.key_id) } " was not trusted." } },
        Err(e) => html! { p.error { (e) } },
    };
    keys_view(&st, &c, Some(msg)).await
}
