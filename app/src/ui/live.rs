//! Live pages: one `EventSource` per page on `GET /api/v1/events` (the session's cookie lets it
//! in; the server filters what the person may see), from the event the page was read at. The
//! browser reconnects by itself after a dropped connection and sends the last id it saw; when
//! it gives up (the server refused, the phone slept, the network changed), the page opens the
//! stream again with backoff, at once when the page is shown again or the network is back,
//! after the last id it heard. An event heard twice is passed on once.

use serde::Deserialize;

/// One event as a page hears it.
#[derive(Debug, Clone, Deserialize)]
pub struct Heard {
    /// The ticket's number.
    pub ticket: String,
    /// The entry's kind code, or `TRANSCRIPT_EVENT`.
    pub kind: String,
}

/// Follows the events the signed-in person may see (of the ticket numbered `ticket` when
/// given) after the event `after`, calling `on_event` for each, in order, for as long as the
/// calling component lives. Does nothing on the server.
pub fn follow_events(ticket: Option<String>, after: i64, on_event: impl Fn(Heard) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::*;
        // What a page hears may have rung the bell.
        let bell = crate::ui::bell::use_bell();
        let on_event = move |heard: Heard| {
            if let Some(bell) = bell {
                bell.refresh_soon();
            }
            on_event(heard)
        };
        let path = match ticket {
            Some(number) => format!(
                "/api/v1/events?ticket={}",
                js_sys::encode_uri_component(&number)
            ),
            None => "/api/v1/events".to_string(),
        };
        let follower = StoredValue::new_local(browser::start(path, after, on_event));
        on_cleanup(move || follower.with_value(browser::stop));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ticket, after, on_event);
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Heard;
    use crate::model::EntryKind;
    use gloo_timers::future::TimeoutFuture;
    use std::cell::RefCell;
    use std::rc::{Rc, Weak};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    const FIRST_RETRY_MS: u32 = 1_000;
    const LAST_RETRY_MS: u32 = 60_000;

    pub struct Follower {
        path: String,
        /// The newest event heard (or the one the page was read at).
        last_id: i64,
        source: Option<EventSource>,
        retry_ms: u32,
        reopening: bool,
        stopped: bool,
        on_event: Rc<dyn Fn(Heard)>,
        /// The callbacks, kept to be removed when the page goes.
        on_message: JsValue,
        on_error: JsValue,
        on_open: JsValue,
        on_back: JsValue,
    }

    pub type Shared = Rc<RefCell<Follower>>;

    pub fn start(path: String, after: i64, on_event: impl Fn(Heard) + 'static) -> Shared {
        let shared = Rc::new_cyclic(|me: &Weak<RefCell<Follower>>| {
            let callback = |act: fn(&Shared, JsValue)| {
                let me = me.clone();
                Closure::<dyn Fn(JsValue)>::new(move |ev: JsValue| {
                    if let Some(shared) = me.upgrade() {
                        act(&shared, ev);
                    }
                })
                .into_js_value()
            };
            let follower = Follower {
                path,
                last_id: after,
                source: None,
                retry_ms: FIRST_RETRY_MS,
                reopening: false,
                stopped: false,
                on_event: Rc::new(on_event),
                on_message: callback(heard),
                on_error: callback(failed),
                on_open: callback(|shared, _| shared.borrow_mut().retry_ms = FIRST_RETRY_MS),
                on_back: callback(|shared, _| back(shared)),
            };
            let window = leptos::prelude::window();
            let _ =
                window.add_event_listener_with_callback("online", follower.on_back.unchecked_ref());
            let _ = leptos::prelude::document().add_event_listener_with_callback(
                "visibilitychange",
                follower.on_back.unchecked_ref(),
            );
            RefCell::new(follower)
        });
        open(&shared);
        shared
    }

    pub fn stop(shared: &Shared) {
        let mut follower = shared.borrow_mut();
        follower.stopped = true;
        if let Some(source) = follower.source.take() {
            source.close();
        }
        let _ = leptos::prelude::window()
            .remove_event_listener_with_callback("online", follower.on_back.unchecked_ref());
        let _ = leptos::prelude::document().remove_event_listener_with_callback(
            "visibilitychange",
            follower.on_back.unchecked_ref(),
        );
    }

    fn open(shared: &Shared) {
        let mut follower = shared.borrow_mut();
        if follower.stopped {
            return;
        }
        if let Some(old) = follower.source.take() {
            old.close();
        }
        let joint = if follower.path.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!("{}{joint}after={}", follower.path, follower.last_id);
        match EventSource::new(&url) {
            Ok(source) => {
                for kind in EntryKind::event_kinds() {
                    let _ = source.add_event_listener_with_callback(
                        kind,
                        follower.on_message.unchecked_ref(),
                    );
                }
                source.set_onerror(Some(follower.on_error.unchecked_ref()));
                source.set_onopen(Some(follower.on_open.unchecked_ref()));
                follower.source = Some(source);
            }
            Err(_) => {
                drop(follower);
                reopen_later(shared);
            }
        }
    }

    fn heard(shared: &Shared, ev: JsValue) {
        let Ok(ev) = ev.dyn_into::<MessageEvent>() else {
            return;
        };
        let Ok(id) = ev.last_event_id().parse::<i64>() else {
            return;
        };
        let on_event = {
            let mut follower = shared.borrow_mut();
            if id <= follower.last_id {
                return;
            }
            follower.last_id = id;
            follower.on_event.clone()
        };
        let data = ev.data().as_string().unwrap_or_default();
        if let Ok(event) = serde_json::from_str::<Heard>(&data) {
            on_event(event);
        }
    }

    /// The browser retries a dropped connection by itself; it gives up (closed) when the server
    /// answered with an error, and then the page tries again, waiting longer each time.
    fn failed(shared: &Shared, _: JsValue) {
        let closed = shared
            .borrow()
            .source
            .as_ref()
            .is_none_or(|s| s.ready_state() == EventSource::CLOSED);
        if closed {
            reopen_later(shared);
        }
    }

    /// The page is shown again or the network is back: a stream that is not open opens now.
    fn back(shared: &Shared) {
        if leptos::prelude::document().hidden() {
            return;
        }
        let open_now = {
            let mut follower = shared.borrow_mut();
            let open = follower
                .source
                .as_ref()
                .is_some_and(|s| s.ready_state() == EventSource::OPEN);
            if !open {
                follower.retry_ms = FIRST_RETRY_MS;
            }
            !open
        };
        if open_now {
            open(shared);
        }
    }

    fn reopen_later(shared: &Shared) {
        let wait = {
            let mut follower = shared.borrow_mut();
            if follower.reopening || follower.stopped {
                return;
            }
            follower.reopening = true;
            let wait = follower.retry_ms;
            follower.retry_ms = (wait * 2).min(LAST_RETRY_MS);
            wait
        };
        let me = Rc::downgrade(shared);
        leptos::task::spawn_local(async move {
            TimeoutFuture::new(wait).await;
            if let Some(shared) = me.upgrade() {
                shared.borrow_mut().reopening = false;
                open(&shared);
            }
        });
    }
}
