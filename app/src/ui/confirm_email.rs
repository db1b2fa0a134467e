//! Confirming a notification address from the link e-mailed to it. Opening the link changes
//! nothing (mail scanners open links); the button does.

use super::components::ErrorAlert;
use super::prefs::{use_prefs, use_t};
use super::set_password::InvalidLink;
use crate::api::ConfirmNotificationEmail;
use crate::i18n::Msg;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let token = use_query_map().with_untracked(|q| q.get("token").unwrap_or_default());
    let confirm = ServerAction::<ConfirmNotificationEmail>::new();
    view! {
        <Title text=t(Msg::ConfirmEmailTitle) />
        <div class="page-narrow">
            {move || match confirm.value().get() {
                Some(Ok(email)) => view! {
                    <section class="card stack">
                        <h1 class="card-title">{t(Msg::ConfirmEmailTitle)}</h1>
                        <div class="alert alert-success" role="status">
                            {Msg::EmailConfirmed.fill(lang, &[("email", &email)])}
                        </div>
                        <a class="btn btn-primary" href="/">{t(Msg::BackHome)}</a>
                    </section>
                }.into_any(),
                Some(Err(error)) if error.message == Msg::ErrorLinkInvalid => view! { <InvalidLink /> }.into_any(),
                other => {
                    let token = token.clone();
                    view! {
                        <section class="card stack">
                            <h1 class="card-title">{t(Msg::ConfirmEmailTitle)}</h1>
                            {other.and_then(|r| r.err()).map(|error| view! { <ErrorAlert error /> })}
                            <ActionForm action=confirm>
                                <input type="hidden" name="token" value=token />
                                <button type="submit" class="btn btn-primary btn-block">
                                    {t(Msg::ConfirmEmailButton)}
                                </button>
                            </ActionForm>
                        </section>
                    }.into_any()
                }
            }}
        </div>
    }
}
