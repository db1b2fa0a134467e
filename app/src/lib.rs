//! Cúpula: the Leptos app shared by the server (`ssr`) and the browser (`hydrate`).

pub mod api;
pub mod error;
pub mod i18n;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod backend;

use crate::error::UserError;
use crate::i18n::Msg;
use crate::model::{Branding, PortalContext};
use crate::ui::components::{provide_toasts, ToastRegion};
use crate::ui::header::Header;
use crate::ui::home::HomePage;
use crate::ui::not_found::NotFound;
use crate::ui::prefs::{use_prefs, use_t};
use crate::ui::sign_in::SignInPage;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Style, Stylesheet};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The name of the built wasm, JS and CSS files (`[[workspace.metadata.leptos]] name`).
pub const SITE_OUTPUT_NAME: &str = "cupula";

/// The branding and the person of the current page, loaded once and shared by all components.
#[derive(Clone, Copy)]
pub struct PortalResource(pub Resource<Result<PortalContext, UserError>>);

/// The HTML document around the app, rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: leptos::config::LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;
    let prefs = ui::prefs::UiPrefs::resolve();
    provide_context(prefs);
    send_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang=prefs.lang.code() data-theme=prefs.theme.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/logo.svg" type="image/svg+xml" />
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
    let portal = Resource::new_blocking(|| (), |_| api::get_portal_context());
    provide_context(PortalResource(portal));
    let t = use_t();

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{SITE_OUTPUT_NAME}.css") />
        <a class="skip-link" href="#main">
            {t(Msg::SkipToContent)}
        </a>
        <Router>
            <Suspense>
                {move || Suspend::new(async move {
                    portal
                        .await
                        .ok()
                        .map(|portal| {
                            view! {
                                <BrandColours branding=portal.branding.clone() />
                                <Header portal />
                            }
                        })
                })}
            </Suspense>
            <main id="main" class="page" tabindex="-1">
                <Routes fallback=|| view! { <NotFound /> }>
                    // Pages that may redirect render fully before answering, so a signed-out
                    // visitor gets a real 302 and never a flash of the wrong page.
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <ToastRegion />
        </Router>
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
