//! Line icons drawn in the current text colour, so every theme (night included) tints them.
//! Inline SVG rather than emoji: emoji fonts are missing on many devices.

use leptos::prelude::*;

#[component]
fn Icon(children: Children) -> impl IntoView {
    view! {
        <svg
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
            focusable="false"
        >
            {children()}
        </svg>
    }
}

#[component]
pub fn SunIcon() -> impl IntoView {
    view! {
        <Icon>
            <circle cx="12" cy="12" r="4" />
            <path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4" />
        </Icon>
    }
}

#[component]
pub fn MoonIcon() -> impl IntoView {
    view! {
        <Icon>
            <path d="M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z" />
        </Icon>
    }
}

/// Night vision: an eye, for the red-on-black theme used at the telescope.
#[component]
pub fn NightIcon() -> impl IntoView {
    view! {
        <Icon>
            <path d="M2 12s3.6-6 10-6 10 6 10 6-3.6 6-10 6S2 12 2 12z" />
            <circle cx="12" cy="12" r="2.5" />
        </Icon>
    }
}

#[component]
pub fn TelescopeIcon() -> impl IntoView {
    view! {
        <Icon>
            <path d="M3.5 11.5l13-6 2 4.5-13 6z" />
            <path d="M16.5 5.5l2.5-1 2 4.5-2.5 1" />
            <path d="M10.5 13.5L7 21M11.5 13l3.5 8" />
        </Icon>
    }
}

#[component]
pub fn BellIcon() -> impl IntoView {
    view! {
        <Icon>
            <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
            <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </Icon>
    }
}
