//! What a form posted without JavaScript typed, shown again on the page it came back to with
//! its error. The server takes the draft before the page renders (`backend::drafts`) and writes
//! it into the page's `<meta name="cupula-form-draft">`; the browser reads it back from there,
//! so hydration renders the same fields as the server did.

use crate::model::FormDraft;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The name of the `<meta>` element that hands the page's draft to the browser.
const FORM_DRAFT_META: &str = "cupula-form-draft";

/// On the server: the draft attached to the request being rendered.
#[cfg(feature = "ssr")]
fn draft_of_request() -> Option<FormDraft> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<FormDraft>().cloned())
}

/// The `<meta>` carrying the page's draft, when it has one (in the shell's `<head>`).
#[cfg(feature = "ssr")]
#[component]
pub fn FormDraftMeta() -> impl IntoView {
    draft_of_request().map(|draft| {
        let json = serde_json::to_string(&draft).unwrap_or_default();
        view! { <meta name=FORM_DRAFT_META content=json /> }
    })
}

/// The page's draft, if it has one: on the server from the request, in the browser from the
/// `<meta>` the server wrote.
fn page_draft() -> Option<FormDraft> {
    #[cfg(feature = "hydrate")]
    {
        document()
            .query_selector(&format!("meta[name='{FORM_DRAFT_META}']"))
            .ok()
            .flatten()
            .and_then(|meta| meta.get_attribute("content"))
            .and_then(|json| serde_json::from_str(&json).ok())
    }
    #[cfg(all(feature = "ssr", not(feature = "hydrate")))]
    {
        draft_of_request()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}

/// Makes the page's draft available to `use_form_draft` (once, in `App`).
pub fn provide_form_draft() {
    provide_context(page_draft().unwrap_or_default());
}

/// What was typed into this page's form before it came back with an error (`?error=…`), as the
/// address used to carry it; empty anywhere else, also after moving on within the page's code.
pub fn use_form_draft() -> FormDraft {
    let draft = use_context::<FormDraft>().unwrap_or_default();
    let location = use_location();
    let here = location.pathname.get_untracked();
    let came_back = location
        .query
        .with_untracked(|query| query.get("error").is_some());
    if came_back && draft.path == here {
        draft
    } else {
        FormDraft::default()
    }
}
