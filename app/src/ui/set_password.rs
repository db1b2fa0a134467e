//! Choosing a password through a link from an e-mail: an invitation or a password reset.
//! The link is checked before the form shows; a used, expired or revoked one explains how to
//! get a new one.

use super::components::{error_from_query, form_error, ErrorAlert, PageError};
use super::prefs::use_t;
use crate::api::{check_link, SetPasswordWithLink};
use crate::error::UserError;
use crate::i18n::Msg;
use crate::model::LinkKind;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SetPasswordPage() -> impl IntoView {
    let t = use_t();
    let query = use_query_map();
    let (token, from_redirect) =
        query.with_untracked(|q| (q.get("token").unwrap_or_default(), error_from_query(q)));
    let link = Resource::new_blocking(
        {
            let token = token.clone();
            move || token.clone()
        },
        check_link,
    );
    view! {
        <Title text=t(Msg::NewPasswordTitle) />
        <div class="page-narrow">
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || {
                    let token = token.clone();
                    let from_redirect = from_redirect.clone();
                    Suspend::new(async move {
                        match link.await {
                            Ok(Some(kind)) => {
                                view! { <SetPasswordForm token kind from_redirect /> }.into_any()
                            }
                            Ok(None) => view! { <InvalidLink /> }.into_any(),
                            Err(error) => view! { <PageError error /> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </div>
    }
}

#[component]
fn SetPasswordForm(
    token: String,
    kind: LinkKind,
    from_redirect: Option<UserError>,
) -> impl IntoView {
    let t = use_t();
    // Stored, so the form can be rendered again (after a refused password) without moving it.
    let token = StoredValue::new(token);
    let action = ServerAction::<SetPasswordWithLink>::new();
    let error = form_error(action.value(), from_redirect);
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            let _ = window().location().set_href("/sign-in?password_set=1");
        }
    });
    let link_gone = move || {
        error.with(|e| {
            e.as_ref()
                .is_some_and(|e| e.message == Msg::ErrorLinkInvalid)
        })
    };
    view! {
        <Show when=move || !link_gone() fallback=|| view! { <InvalidLink /> }>
            <section class="card stack" aria-labelledby="set-password-title">
                <h1 class="card-title" id="set-password-title">
                    {t(Msg::NewPasswordTitle)}
                </h1>
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=action attr:class="stack" attr:novalidate=true>
                    <input type="hidden" name="token" value=token.get_value() />
                    <div class="field">
                        <label for="password">{t(Msg::NewPassword)}</label>
                        <input
                            class="input"
                            id="password"
                            name="password"
                            type="password"
                            autocomplete="new-password"
                            aria-describedby="password-hint"
                            aria-invalid=move || error.with(|e| e.is_some()).to_string()
                        />
                        <p class="field-hint" id="password-hint">
                            {t(Msg::PasswordHint)}
                        </p>
                    </div>
                    {(kind == LinkKind::PasswordReset)
                        .then(|| {
                            view! {
                                <label class="checkbox">
                                    <input type="checkbox" name="end_other_sessions" value="on" checked />
                                    {t(Msg::SignOutOtherSessions)}
                                </label>
                            }
                        })}
                    <button
                        type="submit"
                        class="btn btn-primary btn-block"
                        aria-busy=move || action.pending().get().to_string()
                    >
                        {t(Msg::SavePassword)}
                    </button>
                </ActionForm>
            </section>
        </Show>
    }
}

/// A link that does not work (any more), and how to get a new one.
#[component]
pub fn InvalidLink() -> impl IntoView {
    let t = use_t();
    view! {
        <section class="card stack" aria-labelledby="invalid-link-title">
            <h1 class="card-title" id="invalid-link-title">
                {t(Msg::LinkInvalidTitle)}
            </h1>
            <p>{t(Msg::LinkInvalidBody)}</p>
            <a class="btn btn-primary" href="/forgot-password">
                {t(Msg::RequestNewLink)}
            </a>
        </section>
    }
}
