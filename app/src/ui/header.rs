//! The branded header of every page: observatory, language and theme switchers, the person.

use super::bell::BellLink;
use super::components::{use_toasts, ToastKind};
use super::icons::{MoonIcon, NightIcon, SunIcon};
use super::prefs::{use_prefs, use_t};
use crate::api::SignOut;
use crate::i18n::{Lang, Msg};
use crate::model::{PortalContext, Role, Theme};
use leptos::prelude::*;

#[component]
pub fn Header(portal: PortalContext) -> impl IntoView {
    let t = use_t();
    let prefs = use_prefs();
    let user = portal.user.clone();
    view! {
        <header class="app-header">
            <a class="brand" href="/">
                <img
                    class="brand-logo"
                    src=portal.branding.logo_url.clone().unwrap_or_else(|| "/logo.svg".into())
                    alt=""
                    width="40"
                    height="40"
                />
                <span class="brand-name">{portal.branding.name.clone()}</span>
            </a>
            <div class="header-tools">
                // Plain forms: they work before the page's code has loaded, and the server
                // answers with a redirect back to this page in the new language or theme.
                <form class="lang-switcher" method="post" action="/api/set_language">
                    <fieldset class="switcher">
                        <legend class="visually-hidden">{t(Msg::LanguageLabel)}</legend>
                        {Lang::ALL
                            .into_iter()
                            .map(|lang| {
                                view! {
                                    <button
                                        type="submit"
                                        class="chip"
                                        name="lang"
                                        value=lang.code()
                                        lang=lang.code()
                                        aria-pressed=if lang == prefs.lang { "true" } else { "false" }
                                    >
                                        {lang.native_name()}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </fieldset>
                </form>
                <form class="theme-switcher" method="post" action="/api/set_theme">
                    <fieldset class="switcher">
                        <legend class="visually-hidden">{t(Msg::ThemeLabel)}</legend>
                        {Theme::ALL
                            .into_iter()
                            .map(|theme| {
                                view! {
                                    <button
                                        type="submit"
                                        class="chip"
                                        name="theme"
                                        value=theme.code()
                                        title=(theme == Theme::Night).then(|| t(Msg::ThemeNightHint))
                                        aria-pressed=if theme == prefs.theme { "true" } else { "false" }
                                    >
                                        {match theme {
                                            Theme::Light => view! { <SunIcon /> }.into_any(),
                                            Theme::Dark => view! { <MoonIcon /> }.into_any(),
                                            Theme::Night => view! { <NightIcon /> }.into_any(),
                                        }}
                                        <span class="chip-label">{t(theme.label())}</span>
                                    </button>
                                }
                            })
                            .collect_view()}
                    </fieldset>
                </form>
                {user.clone().map(|user| view! { <BellLink /><UserMenu name=user.name /> })}
            </div>
            {user.map(|user| view! { <MainNav role=user.role /> })}
        </header>
    }
}

/// The sections of the portal the person may use; the current one is marked for screen readers.
#[component]
fn MainNav(role: Role) -> impl IntoView {
    let t = use_t();
    let path = leptos_router::hooks::use_location().pathname;
    let mut links = vec![
        ("/", Msg::Requests),
        ("/tickets/new", Msg::NewRequest),
        ("/account", Msg::MyAccount),
    ];
    if role == Role::Admin {
        links.push(("/admin/clients", Msg::Clients));
        links.push(("/admin/people", Msg::People));
        links.push(("/admin/branding", Msg::Branding));
        links.push(("/admin/notifications", Msg::Notifications));
        links.push(("/admin/outbox", Msg::Outbox));
    }
    view! {
        <nav class="main-nav" aria-label=t(Msg::Sections)>
            {links
                .into_iter()
                .map(|(href, label)| {
                    view! {
                        <a
                            href=href
                            aria-current=move || (path.get() == href).then_some("page")
                        >
                            {t(label)}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

#[component]
fn UserMenu(name: String) -> impl IntoView {
    let t = use_t();
    let toasts = use_toasts();
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| match sign_out.value().get() {
        Some(Ok(())) => {
            // A full load: every piece of the page that knew the person is dropped.
            let _ = window().location().set_href("/sign-in?signed_out=1");
        }
        Some(Err(err)) => toasts.push(ToastKind::Error, err.message),
        None => {}
    });
    view! {
        <div class="user-menu">
            <span class="user-name">{name}</span>
            <ActionForm action=sign_out>
                <button
                    type="submit"
                    class="btn btn-ghost"
                    aria-busy=move || sign_out.pending().get().to_string()
                >
                    {t(Msg::SignOut)}
                </button>
            </ActionForm>
        </div>
    }
}
