//! Cúpula: the Leptos app shared by the server (`ssr`) and the browser (`hydrate`).
// Views keep their full types in release builds (no `erase_components`); the ticket page with
// its uploader is deeper than the default limit of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod i18n;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod backend;

use crate::i18n::Msg;
use crate::model::{Branding, PortalContext};
use crate::ui::account::AccountPage;
use crate::ui::admin::{
    BrandingPage, ClientsPage, NotificationsPage, OrganizationPage, OutboxPage, PeoplePage,
};
use crate::ui::bell::BellPage;
use crate::ui::components::{provide_toasts, ToastRegion};
use crate::ui::confirm_email::ConfirmEmailPage;
use crate::ui::forgot_password::ForgotPasswordPage;
use crate::ui::header::Header;
use crate::ui::not_found::NotFound;
use crate::ui::prefs::{use_prefs, use_t};
use crate::ui::set_password::SetPasswordPage;
use crate::ui::sign_in::SignInPage;
use crate::ui::tickets::detail::TicketPage;
use crate::ui::tickets::list::HomePage;
use crate::ui::tickets::new::NewTicketPage;
use crate::ui::tickets::telescope::TelescopePage;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Style, Stylesheet};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The name of the built wasm, JS and CSS files (`[[workspace.metadata.leptos]] name`).
pub const SITE_OUTPUT_NAME: &str = "cupula";

/// The name of the `<meta>` element that hands the page's `PortalContext` to the browser.
const PORTAL_META: &str = "cupula-portal";

/// The branding and the person of the current page. The server resolves it before rendering
/// (see `backend::request::portal_context`); the browser reads it back from the page's `<meta>`.
pub fn use_portal() -> PortalContext {
    use_context::<PortalContext>().unwrap_or_else(PortalContext::unknown)
}

/// The zone the page shows dates in (see `model::LocalZone`).
pub fn use_zone() -> model::LocalZone {
    use_context::<model::LocalZone>().unwrap_or_default()
}

/// The HTML document around the app, rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: leptos::config::LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;
    let prefs = ui::prefs::UiPrefs::resolve();
    provide_context(prefs);
    let portal = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PortalContext>().cloned())
        .unwrap_or_else(PortalContext::unknown);
    let portal_json = serde_json::to_string(&portal).unwrap_or_default();
    provide_context(portal);
    send_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang=prefs.lang.code() data-theme=prefs.theme.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/logo.svg" type="image/svg+xml" />
                <meta name=PORTAL_META content=portal_json />
                <ui::form_draft::FormDraftMeta />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// A strict policy: only scripts carrying this response's nonce run (the hydration script, which
/// then loads the wasm), nothing is framed, forms post only here.
#[cfg(feature = "ssr")]
fn send_content_security_policy() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    let (Some(response), Some(nonce)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        leptos::nonce::use_nonce(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data: blob:; media-src 'self' blob:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let prefs = use_prefs();
    provide_context(prefs);
    provide_toasts();
    let portal = use_context::<PortalContext>().unwrap_or_else(portal_from_document);
    provide_context(portal.clone());
    provide_context(portal.zone.clone());
    ui::form_draft::provide_form_draft();
    ui::bell::BellState::provide();
    let t = use_t();
    // Effects run only in the browser, once the page is interactive: a mark for people's tools
    // (and the browser tests) that the page's code has taken over.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{SITE_OUTPUT_NAME}.css") />
        <BrandColours branding=portal.branding.clone() />
        <a class="skip-link" href="#main">
            {t(Msg::SkipToContent)}
        </a>
        <Router>
            <Header portal />
            <main id="main" class="page" tabindex="-1">
                <Routes fallback=|| view! { <NotFound /> }>
                    // Pages that load data render it all on the server before answering, so
                    // they are complete without JavaScript (people on a weak phone connection
                    // at the telescope may use them before the page's code has loaded).
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/tickets/new") view=NewTicketPage ssr=SsrMode::Async />
                    <Route path=path!("/tickets/:number") view=TicketPage ssr=SsrMode::Async />
                    <Route path=path!("/telescopes/:id") view=TelescopePage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=SignInPage />
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage />
                    <Route path=path!("/reset-password") view=SetPasswordPage />
                    <Route path=path!("/invitation") view=SetPasswordPage />
                    <Route path=path!("/confirm-email") view=ConfirmEmailPage />
                    <Route path=path!("/account") view=AccountPage />
                    <Route path=path!("/notifications") view=BellPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/clients") view=ClientsPage />
                    <Route path=path!("/admin/clients/:id") view=OrganizationPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/people") view=PeoplePage />
                    <Route path=path!("/admin/branding") view=BrandingPage />
                    <Route path=path!("/admin/outbox") view=OutboxPage />
                    <Route path=path!("/admin/notifications") view=NotificationsPage />
                </Routes>
            </main>
            <ToastRegion />
        </Router>
    }
}

/// In the browser: the context the server wrote into the page it sent.
fn portal_from_document() -> PortalContext {
    #[cfg(feature = "hydrate")]
    {
        document()
            .query_selector(&format!("meta[name='{PORTAL_META}']"))
            .ok()
            .flatten()
            .and_then(|meta| meta.get_attribute("content"))
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_else(PortalContext::unknown)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        PortalContext::unknown()
    }
}

/// The observatory's colours as CSS variables; the stylesheet derives every tint from them.
#[component]
fn BrandColours(branding: Branding) -> impl IntoView {
    let css = match (
        model::css_hex_colour(&branding.primary_color),
        model::css_hex_colour(&branding.accent_color),
    ) {
        (Some(primary), Some(accent)) => {
            format!(":root{{--brand-primary:{primary};--brand-accent:{accent}}}")
        }
        _ => String::new(),
    };
    view! { <Style id="brand-colours">{css}</Style> }
}
