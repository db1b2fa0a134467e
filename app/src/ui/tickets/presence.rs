//! Who else is on a ticket's page, and who is writing: the page reports itself every
//! `PRESENCE_EVERY_SECS` (and at once when its reader starts or stops writing) and shows what
//! the server answers (`backend::presence` decides what a client may know of staff).

use crate::i18n::Msg;
use crate::model::{Composing, PresentViewer};
use crate::ui::prefs::use_prefs;
use crate::ui::recorder::RecorderHandle;
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
/// After this long without a keystroke, an unsent text no longer counts as being written.
const IDLE_AFTER_MS: f64 = 20_000.0;

/// The id of the reply form's "internal note" box.
pub const NOTE_BOX_ID: &str = "reply-internal";

/// What the reader is writing on the page: their reply form's state.
#[derive(Clone, Copy)]
pub struct Writing {
    /// The reply's text is not empty.
    pub filled: RwSignal<bool>,
    /// "Internal note" was ticked or unticked: told at once (what is told reads the box).
    pub note: RwSignal<bool>,
    /// When the text was last typed in (milliseconds since the epoch).
    pub typed_at: StoredValue<f64>,
    pub voice: StoredValue<Option<RecorderHandle>>,
}

impl Writing {
    pub fn new() -> Writing {
        Writing {
            filled: RwSignal::new(false),
            note: RwSignal::new(false),
            typed_at: StoredValue::new(0.0),
            voice: StoredValue::new(None),
        }
    }

    /// The reply form's text changed to `text`.
    pub fn typed(&self, text: &str) {
        self.typed_at.set_value(now_ms());
        let filled = !text.trim().is_empty();
        if self.filled.get_untracked() != filled {
            self.filled.set(filled);
        }
    }

    /// What others are told now: a text typed in lately, or a voice comment being recorded
    /// or waiting to go, is being written.
    #[cfg(feature = "hydrate")]
    fn now(&self) -> Option<Composing> {
        use wasm_bindgen::JsCast;
        let typing = self.filled.try_get_untracked().unwrap_or(false)
            && now_ms() - self.typed_at.try_get_value().unwrap_or(0.0) < IDLE_AFTER_MS;
        // The recorder goes with its form (a closed request has none).
        let speaking = self.voice.try_get_value().flatten().is_some_and(|voice| {
            voice.busy.try_get_untracked().unwrap_or(false)
                || voice.attached.try_get_untracked().unwrap_or(false)
        });
        // The box as it is, not as last heard of: ticked before the page's code loaded, or
        // restored by the browser, a note must never be told as a reply.
        let note = document()
            .get_element_by_id(NOTE_BOX_ID)
            .and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok())
            .is_some_and(|input| input.checked());
        (typing || speaking).then_some(if note {
            Composing::Note
        } else {
            Composing::Reply
        })
    }
}

impl Default for Writing {
    fn default() -> Self {
        Writing::new()
    }
}

fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    0.0
}

/// The others on the page, and who of them writes.
#[component]
pub fn PresenceLine(number: String, writing: Writing) -> impl IntoView {
    let lang = use_prefs().lang;
    let others = RwSignal::new(Vec::<PresentViewer>::new());
    #[cfg(feature = "hydrate")]
    follow_presence(number, writing, others);
    #[cfg(not(feature = "hydrate"))]
    let _ = (number, writing);
    let writers = move || {
        others.with(|others| {
            others
                .iter()
                .filter_map(|other| {
                    let name = other.name.as_deref();
                    match (other.composing?, name) {
                        (Composing::Reply, Some(name)) => {
                            Some(Msg::PresenceWritingReply.fill(lang, &[("name", name)]))
                        }
                        (Composing::Note, Some(name)) => {
                            Some(Msg::PresenceWritingNote.fill(lang, &[("name", name)]))
                        }
                        (_, None) => Some(Msg::PresenceObservatoryReplying.text(lang).to_string()),
                    }
                })
                .collect::<Vec<_>>()
        })
    };
    let viewing = move || {
        let names: Vec<String> = others.with(|others| {
            others
                .iter()
                .filter_map(|other| other.name.clone())
                .collect()
        });
        (!names.is_empty())
            .then(|| Msg::PresenceViewing.fill(lang, &[("names", &names.join(", "))]))
    };
    view! {
        <div class="presence" data-testid="presence">
            {move || viewing().map(|line| view! { <p class="muted presence-viewing">{line}</p> })}
            <p class="presence-writing" aria-live="polite" data-testid="presence-writing">
                {move || writers().join(" ")}
            </p>
        </div>
    }
}

/// Reports the page every few seconds while it is visible, at once when the reader starts or
/// stops writing, and as left when it goes; keeps `others` to what the server answers.
#[cfg(feature = "hydrate")]
fn follow_presence(number: String, writing: Writing, others: RwSignal<Vec<PresentViewer>>) {
    use crate::api::report_presence;
    use crate::model::PRESENCE_EVERY_SECS;
    use leptos::task::spawn_local;
    let tab = tab_id();
    let open = StoredValue::new(true);
    let report = {
        let (number, tab) = (number.clone(), tab.clone());
        move || {
            let (number, tab) = (number.clone(), tab.clone());
            let composing = writing.now().map(|c| c.code().to_string());
            spawn_local(async move {
                if let Ok(now) = report_presence(number, tab, composing, false).await {
                    if open.try_get_value() == Some(true)
                        && others.try_with_untracked(|known| *known != now) == Some(true)
                    {
                        others.set(now);
                    }
                }
            });
        }
    };
    // Starting or stopping to write is told at once.
    Effect::new({
        let report = report.clone();
        move |_| {
            writing.filled.track();
            writing.note.track();
            report();
        }
    });
    spawn_local({
        let report = report.clone();
        async move {
            loop {
                gloo_timers::future::TimeoutFuture::new(PRESENCE_EVERY_SECS as u32 * 1_000).await;
                if open.try_get_value() != Some(true) {
                    return;
                }
                if !document().hidden() {
                    report();
                }
            }
        }
    });
    on_cleanup(move || {
        open.try_set_value(false);
        spawn_local(async move {
            let _ = report_presence(number, tab, None, true).await;
        });
    });
}

/// A name for this page among the reader's others (two tabs of one person count once each).
#[cfg(feature = "hydrate")]
fn tab_id() -> String {
    crate::ui::recorder::new_key().replace('-', "")
}
