use super::components::EmptyState;
use super::prefs::use_t;
use crate::i18n::Msg;
use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any address the portal does not know (with status 404).
#[component]
pub fn NotFound() -> impl IntoView {
    let t = use_t();
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=t(Msg::NotFoundTitle) />
        <EmptyState title=t(Msg::NotFoundTitle) body=t(Msg::NotFoundBody)>
            <a class="btn btn-primary" href="/">
                {t(Msg::BackHome)}
            </a>
        </EmptyState>
    }
}
