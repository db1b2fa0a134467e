//! The viewer's language and theme, fixed for the life of a page: switching either reloads the
//! page, so texts need not be reactive.
//!
//! The server decides them from the request and writes them on `<html lang data-theme>`; the
//! browser reads them back from there when it hydrates, so both render the same text.

use crate::i18n::{Lang, Msg};
use crate::model::Theme;
use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiPrefs {
    pub lang: Lang,
    pub theme: Theme,
}

impl UiPrefs {
    /// On the server, from the request; in the browser, from the document being hydrated.
    pub fn resolve() -> UiPrefs {
        #[cfg(feature = "ssr")]
        {
            use_context::<axum::http::request::Parts>()
                .map(|parts| UiPrefs {
                    lang: crate::backend::request::language_of(&parts.headers),
                    theme: crate::backend::request::theme_of(&parts.headers),
                })
                .unwrap_or(UiPrefs {
                    lang: Lang::default(),
                    theme: Theme::default(),
                })
        }
        #[cfg(not(feature = "ssr"))]
        {
            let root = document().document_element();
            let attr = |name: &str| root.as_ref().and_then(|r| r.get_attribute(name));
            UiPrefs {
                lang: attr("lang")
                    .and_then(|l| Lang::from_code(&l))
                    .unwrap_or_default(),
                theme: attr("data-theme")
                    .and_then(|t| Theme::from_code(&t))
                    .unwrap_or_default(),
            }
        }
    }
}

/// The current preferences (provided by `App`).
pub fn use_prefs() -> UiPrefs {
    use_context::<UiPrefs>().unwrap_or_else(UiPrefs::resolve)
}

/// The translator of the current page: `let t = use_t(); t(Msg::SignIn)`.
pub fn use_t() -> impl Fn(Msg) -> &'static str + Copy + Send + Sync + 'static {
    let lang = use_prefs().lang;
    move |msg: Msg| msg.text(lang)
}
