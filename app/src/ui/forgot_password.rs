//! "Forgot your password?": asks for a reset link by e-mail. It also serves a first access.

use super::components::{error_from_query, form_error, EmailField, ErrorAlert};
use super::form_draft::use_form_draft;
use super::prefs::use_t;
use crate::api::RequestPasswordReset;
use crate::i18n::Msg;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let t = use_t();
    let query = use_query_map();
    let (from_redirect, sent_before) =
        query.with_untracked(|q| (error_from_query(q), q.get("sent").is_some()));
    // What a post without JavaScript typed comes back from its draft, never in the address.
    let typed_email = use_form_draft().field("email");
    let action = ServerAction::<RequestPasswordReset>::new();
    let error = form_error(action.value(), from_redirect);
    let sent = move || sent_before || matches!(action.value().get(), Some(Ok(())));

    view! {
        <Title text=t(Msg::ForgotPasswordTitle) />
        <div class="page-narrow">
            <section class="card stack" aria-labelledby="forgot-title">
                <h1 class="card-title" id="forgot-title">
                    {t(Msg::ForgotPasswordTitle)}
                </h1>
                <p class="muted">{t(Msg::ForgotPasswordIntro)}</p>
                {move || {
                    sent()
                        .then(|| {
                            view! {
                                <div class="alert alert-success" role="status">
                                    {t(Msg::ResetLinkSent)}
                                </div>
                            }
                        })
                }}
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=action attr:class="stack" attr:novalidate=true>
                    <EmailField
                        value=typed_email
                        invalid=Signal::derive(move || error.with(|e| e.is_some()))
                    />
                    <button
                        type="submit"
                        class="btn btn-primary btn-block"
                        aria-busy=move || action.pending().get().to_string()
                    >
                        {t(Msg::SendResetLink)}
                    </button>
                </ActionForm>
                <p>
                    <a href="/sign-in">{t(Msg::BackToSignIn)}</a>
                </p>
            </section>
        </div>
    }
}
