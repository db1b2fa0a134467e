//! Sign-in with e-mail and password.
//!
//! Before the page's code has loaded the form posts natively and the server redirects back
//! here with `?error=…`, so the message shows, and the e-mail stays typed (from the form's
//! draft, `ui::form_draft`: an address is personal data, never put in a URL); afterwards the
//! same form is sent by the `ActionForm` without leaving the page.

use super::components::{error_from_query, form_error, EmailField, ErrorAlert};
use super::form_draft::use_form_draft;
use super::prefs::use_t;
use crate::api::SignIn;
use crate::i18n::Msg;
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let t = use_t();
    let signed_in = use_portal().user.is_some();
    let query = use_query_map();
    let typed_email = use_form_draft().field("email");
    let (from_redirect, notice) = query.with_untracked(|q| {
        (
            error_from_query(q),
            if q.get("signed_out").is_some() {
                Some(Msg::SignedOut)
            } else if q.get("password_set").is_some() {
                Some(Msg::PasswordSaved)
            } else {
                None
            },
        )
    });

    let action = ServerAction::<SignIn>::new();
    let error = form_error(action.value(), from_redirect);
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            // A full load, so every part of the page learns who signed in.
            let _ = window().location().set_href("/");
        }
    });
    let email_invalid = move || {
        error.with(|e| {
            e.as_ref().is_some_and(|e| {
                matches!(e.message, Msg::ErrorEmailRequired | Msg::ErrorEmailInvalid)
            })
        })
    };
    let password_invalid = move || {
        error.with(|e| {
            e.as_ref()
                .is_some_and(|e| e.message == Msg::ErrorPasswordRequired)
        })
    };
    let (password_shown, set_password_shown) = signal(false);

    view! {
        <Title text=t(Msg::SignIn) />
        // Someone already signed in has nothing to do here.
        {signed_in.then(|| view! { <Redirect path="/" /> })}
        <div class="page-narrow">
            <section class="card stack" aria-labelledby="sign-in-title">
                <h1 class="card-title" id="sign-in-title">
                    {t(Msg::SignInTitle)}
                </h1>
                <p class="muted">{t(Msg::SignInIntro)}</p>
                {notice
                    .map(|notice| {
                        view! {
                            <div class="alert alert-success" role="status">
                                {t(notice)}
                            </div>
                        }
                    })}
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=action attr:class="stack" attr:novalidate=true>
                    <EmailField value=typed_email invalid=Signal::derive(email_invalid) />
                    <div class="field">
                        <label for="password">{t(Msg::Password)}</label>
                        <div class="password-field">
                            <input
                                class="input"
                                id="password"
                                name="password"
                                type=move || if password_shown.get() { "text" } else { "password" }
                                autocomplete="current-password"
                                aria-invalid=move || password_invalid().to_string()
                            />
                            <button
                                type="button"
                                class="password-toggle"
                                aria-controls="password"
                                aria-pressed=move || password_shown.get().to_string()
                                aria-label=move || {
                                    t(
                                        if password_shown.get() {
                                            Msg::HidePasswordLabel
                                        } else {
                                            Msg::ShowPasswordLabel
                                        },
                                    )
                                }
                                on:click=move |_| set_password_shown.update(|shown| *shown = !*shown)
                            >
                                {move || {
                                    t(
                                        if password_shown.get() {
                                            Msg::HidePassword
                                        } else {
                                            Msg::ShowPassword
                                        },
                                    )
                                }}
                            </button>
                        </div>
                    </div>
                    <button
                        type="submit"
                        class="btn btn-primary btn-block"
                        aria-busy=move || action.pending().get().to_string()
                    >
                        {move || {
                            t(if action.pending().get() { Msg::SigningIn } else { Msg::SignIn })
                        }}
                    </button>
                </ActionForm>
                <p>
                    <a href="/forgot-password">{t(Msg::ForgotPasswordLink)}</a>
                </p>
            </section>
        </div>
    }
}
