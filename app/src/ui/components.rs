//! Small building blocks of the design system.

use super::icons::TelescopeIcon;
use super::prefs::use_t;
use crate::error::UserError;
use crate::i18n::Msg;
use crate::model::{Priority, Status};
use leptos::prelude::*;
use leptos_router::params::ParamsMap;

/// A centred message for a place with nothing to show yet.
#[component]
pub fn EmptyState(
    title: &'static str,
    body: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="empty-state">
            <div class="empty-state-icon">
                <TelescopeIcon />
            </div>
            <h2>{title}</h2>
            <p>{body}</p>
            {children.map(|c| c())}
        </div>
    }
}

/// A server action that answers nothing but success or a message for the person.
pub trait PlainAction:
    leptos::server_fn::ServerFn<Output = (), Error = crate::error::UserError>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> PlainAction for S where
    S: leptos::server_fn::ServerFn<Output = (), Error = crate::error::UserError>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Shows a toast each time an action completes: `success`, or its error. Driven by the action's
/// version, so the same outcome twice is announced twice.
pub fn toast_outcome<S: PlainAction>(action: ServerAction<S>, success: Msg) {
    toast_results(action, success, true);
}

/// Shows a toast each time an action succeeds; for forms that show their errors themselves.
pub fn toast_success<S: PlainAction>(action: ServerAction<S>, success: Msg) {
    toast_results(action, success, false);
}

fn toast_results<S: PlainAction>(action: ServerAction<S>, success: Msg, errors: bool) {
    let toasts = use_toasts();
    Effect::new(move |_| {
        if action.version().get() == 0 {
            return;
        }
        match action.value().get_untracked() {
            Some(Ok(())) => toasts.push(ToastKind::Success, success),
            Some(Err(err)) if errors => toasts.push(ToastKind::Error, err.message),
            _ => {}
        }
    });
}

/// The error a form shows: its action's latest answer or, before any, the one a form posted
/// without JavaScript carried back in the address (`?error=MessageName`).
pub fn form_error(
    result: impl Get<Value = Option<Result<(), UserError>>> + Send + Sync + 'static,
    from_redirect: Option<UserError>,
) -> Signal<Option<UserError>> {
    Signal::derive(move || match result.get() {
        Some(Err(err)) => Some(err),
        Some(Ok(())) => None,
        None => from_redirect.clone(),
    })
}

/// The error carried back in the address by a form posted without JavaScript.
pub fn error_from_query(query: &ParamsMap) -> Option<UserError> {
    query
        .get("error")
        .and_then(|name| Msg::from_name(&name))
        .map(UserError::new)
}

/// The log-in e-mail field of the sign-in and password forms.
#[component]
pub fn EmailField(value: String, #[prop(into)] invalid: Signal<bool>) -> impl IntoView {
    let t = use_t();
    view! {
        <div class="field">
            <label for="email">{t(Msg::Email)}</label>
            <input
                class="input"
                id="email"
                name="email"
                type="email"
                inputmode="email"
                autocomplete="username"
                autocapitalize="none"
                spellcheck="false"
                value=value
                aria-invalid=move || invalid.get().to_string()
            />
        </div>
    }
}

/// An error told to the person, announced by screen readers.
#[component]
pub fn ErrorAlert(error: UserError) -> impl IntoView {
    let t = use_t();
    view! {
        <div class="alert alert-error" role="alert">
            {t(error.message)}
        </div>
    }
}

/// A page whose data could not be loaded: the message, and on the server the HTTP status it
/// means, so that what does not exist (or is not the viewer's to see) is a 404 for browsers,
/// crawlers and monitors alike. The status only reaches the response on pages rendered whole
/// before sending (`SsrMode::Async`).
#[component]
pub fn PageError(error: UserError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        use axum::http::StatusCode;
        let status = match error.message {
            Msg::ErrorNotFound => Some(StatusCode::NOT_FOUND),
            Msg::ErrorForbidden => Some(StatusCode::FORBIDDEN),
            Msg::ErrorInternal => Some(StatusCode::INTERNAL_SERVER_ERROR),
            _ => None,
        };
        if let Some(status) = status {
            response.set_status(status);
        }
    }
    view! { <ErrorAlert error /> }
}

#[component]
pub fn StatusBadge(status: Status) -> impl IntoView {
    let t = use_t();
    view! { <span class=format!("badge badge-status-{}", status.code())>{t(status.label())}</span> }
}

#[component]
pub fn PriorityBadge(priority: Priority) -> impl IntoView {
    let t = use_t();
    view! {
        <span class=format!("badge badge-priority-{}", priority.code())>{t(priority.label())}</span>
    }
}

/// What kind of news a toast brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Error,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    id: u64,
    kind: ToastKind,
    message: Msg,
}

/// The queue of toasts of the page; `Toasts::push` shows one for a few seconds.
#[derive(Debug, Clone, Copy)]
pub struct Toasts {
    items: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
}

impl Toasts {
    pub fn push(&self, kind: ToastKind, message: Msg) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.items
            .update(|items| items.push(Toast { id, kind, message }));
        #[cfg(feature = "hydrate")]
        {
            let items = self.items;
            leptos::task::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(6_000).await;
                items.update(|items| items.retain(|t| t.id != id));
            });
        }
    }

    fn dismiss(&self, id: u64) {
        self.items.update(|items| items.retain(|t| t.id != id));
    }
}

pub fn provide_toasts() -> Toasts {
    let toasts = Toasts {
        items: RwSignal::new(Vec::new()),
        next_id: StoredValue::new(0),
    };
    provide_context(toasts);
    toasts
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

/// The live region where toasts appear; errors are announced at once, the rest politely.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let t = use_t();
    let toasts = use_toasts();
    view! {
        <div class="toast-region" aria-live="polite">
            <For each=move || toasts.items.get() key=|toast| toast.id let:toast>
                <div
                    class=match toast.kind {
                        ToastKind::Success => "toast toast-success",
                        ToastKind::Error => "toast toast-error",
                        ToastKind::Info => "toast toast-info",
                    }
                    role=if toast.kind == ToastKind::Error { "alert" } else { "status" }
                >
                    <span>{t(toast.message)}</span>
                    <button
                        type="button"
                        class="toast-close"
                        aria-label=t(Msg::Close)
                        on:click=move |_| toasts.dismiss(toast.id)
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
