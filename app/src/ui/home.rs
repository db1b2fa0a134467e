//! The start page of a signed-in person.

use super::components::EmptyState;
use super::prefs::{use_prefs, use_t};
use crate::i18n::Msg;
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn HomePage() -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let portal = use_portal();
    let Some(user) = portal.user else {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    };
    view! {
        <Title text=t(Msg::AppName) />
        <div class="stack">
            <h1>{Msg::Welcome.fill(lang, &[("name", &user.name)])}</h1>
            <p class="muted">{t(Msg::HomeIntro)}</p>
            <section class="card stack-sm" aria-labelledby="account-title">
                <h2 class="card-title" id="account-title">
                    {t(Msg::YourAccount)}
                </h2>
                <dl class="profile-summary">
                    <dt>{t(Msg::Name)}</dt>
                    <dd data-testid="profile-name">{user.name.clone()}</dd>
                    <dt>{t(Msg::Email)}</dt>
                    <dd>{user.email.clone()}</dd>
                    <dt>{t(Msg::Role)}</dt>
                    <dd data-testid="profile-role">{t(user.role.label())}</dd>
                    <dt>{t(Msg::Observatory)}</dt>
                    <dd>{portal.branding.name.clone()}</dd>
                    {user
                        .organization
                        .clone()
                        .map(|org| {
                            view! {
                                <dt>{t(Msg::Organization)}</dt>
                                <dd data-testid="profile-organization">{org}</dd>
                            }
                        })}
                </dl>
            </section>
            <EmptyState title=t(Msg::NoRequestsYet) body=t(Msg::NoRequestsYetBody) />
        </div>
    }
    .into_any()
}
