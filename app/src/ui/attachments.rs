//! A timeline entry's files as people look at them: images as thumbnails that open a lightbox
//! (the ticket's images in order, with previous and next, arrow keys and swipes), videos in the
//! browser's player (streamed with Range requests, so seeking works), PDFs as a card with their
//! first page, and everything else as a card with its name, size and type. A voice comment
//! gets an audio player with its speed (1x, 1.5x, 2x), its length and its transcript.
//!
//! Before the wasm loads, every thumbnail and card is a plain link to the file: images open as
//! they are, other files download.
//!
//! PDFs download (`Content-Disposition: attachment`) rather than open in a tab: security.md 21
//! allows them inline only in a sandboxed viewer, and Chromium does not render a PDF under the
//! `sandbox` CSP the download carries, so "opening" a PDF is saving it; the card shows its first
//! page to tell documents apart.

use crate::i18n::{Lang, Msg};
use crate::model::{AttachmentInfo, TranscriptState, VoiceInfo};
use crate::ui::files::human_size;
use crate::ui::prefs::{use_prefs, use_t};
use leptos::prelude::*;

/// A length as a clock shows it: `0:42`, `4:07`, `1:02:03`.
fn clock(duration_ms: u64) -> String {
    let seconds = (duration_ms + 500) / 1000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// The speeds a voice comment plays at, with their labels.
const SPEEDS: [(f64, Msg); 3] = [
    (1.0, Msg::VoiceSpeed1),
    (1.5, Msg::VoiceSpeed15),
    (2.0, Msg::VoiceSpeed2),
];

/// A voice comment: a seekable player (the download streams with Range requests), its speed,
/// its length, and its transcript or where the transcript stands. Before the wasm loads the
/// player works on its own; the speed buttons need the script.
#[component]
pub fn VoicePlayer(voice: VoiceInfo, number: String, entry_id: i64) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let player = NodeRef::<leptos::html::Audio>::new();
    let speed = RwSignal::new(1.0_f64);
    let audio = voice.audio.clone().map(|file| {
        let url = file.download_url();
        let speeds = SPEEDS
            .iter()
            .map(|&(rate, label)| {
                let choose = move |_| {
                    speed.set(rate);
                    if let Some(player) = player.get() {
                        player.set_playback_rate(rate);
                    }
                };
                view! {
                    <button
                        type="button"
                        class="btn btn-secondary voice-speed"
                        aria-pressed=move || (speed.get() == rate).to_string()
                        on:click=choose
                    >
                        {t(label)}
                    </button>
                }
            })
            .collect_view();
        let fallback = url.clone();
        view! {
            <audio
                node_ref=player
                class="voice-player"
                controls=true
                preload="metadata"
                src=url
                data-testid="voice-player"
            >
                <a href=fallback download=file.name.clone()>{t(Msg::VoiceUnsupported)}</a>
            </audio>
            <div class="voice-speeds" role="group" aria-label=t(Msg::VoiceSpeed)>
                {speeds}
            </div>
        }
    });
    let duration = Msg::VoiceDuration.fill(lang, &[("duration", &clock(voice.duration_ms))]);
    // The transcript is made after the comment is sent: the page asks until it is there.
    let current = RwSignal::new(voice);
    #[cfg(feature = "hydrate")]
    if current.get_untracked().state == TranscriptState::Pending {
        leptos::task::spawn_local(follow_transcript(number, entry_id, current));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (number, entry_id);
    let transcript = move || {
        let voice = current.get();
        let edited = voice.edited_text.is_some();
        let text = voice.text().filter(|text| !text.is_empty()).map(|text| {
            view! { <p class="voice-transcript" data-testid="voice-transcript">{text.to_string()}</p> }
        });
        // Where the machine's transcript stands, unless it is there (or said nothing).
        let state = match (voice.state, &text) {
            (TranscriptState::Pending, _) => Some(Msg::VoiceTranscriptPending),
            (TranscriptState::Unavailable, _) => Some(Msg::VoiceTranscriptUnavailable),
            (TranscriptState::Failed, _) => Some(Msg::VoiceTranscriptFailed),
            (TranscriptState::Done, None) => Some(Msg::VoiceTranscriptEmpty),
            (TranscriptState::Done, Some(_)) => None,
        }
        .map(|message| {
            view! { <p class="voice-state muted" data-testid="voice-state" role="status">{t(message)}</p> }
        });
        // When the person fixed the machine's words, both are kept: theirs first, the
        // machine's on request.
        let machine = voice.transcript.clone().filter(|_| edited).map(|text| {
            view! {
                <details class="voice-machine">
                    <summary>{t(Msg::VoiceMachineTranscript)}</summary>
                    <p>{text}</p>
                </details>
            }
        });
        view! { {text} {state} {machine} }
    };
    let edited = move || current.with(|voice| voice.edited_text.is_some());
    view! {
        <div
            class="voice"
            data-testid="voice-entry"
            data-transcript-state=move || current.with(|voice| voice.state.code())
        >
            {audio}
            <p class="voice-meta">
                <span>{duration}</span>
                {move || edited().then(|| view! { <span class="badge" data-testid="voice-edited">{t(Msg::VoiceEdited)}</span> })}
            </p>
            <div aria-live="polite">{transcript}</div>
        </div>
    }
    .into_any()
}

/// Asks for a pending voice entry every few seconds until its transcript is written (or a few
/// minutes pass: the page shows where it stands, and a reload asks again).
#[cfg(feature = "hydrate")]
async fn follow_transcript(number: String, entry_id: i64, current: RwSignal<VoiceInfo>) {
    for _ in 0..100 {
        gloo_timers::future::sleep(std::time::Duration::from_secs(3)).await;
        match crate::api::get_voice_entry(number.clone(), entry_id).await {
            Ok(voice) => {
                let settled = voice.state != TranscriptState::Pending;
                if current.try_set(voice).is_some() || settled {
                    return;
                }
            }
            // Offline for a moment, or the entry is gone: ask again later.
            Err(_) => continue,
        }
    }
}

/// The ticket's images that have a preview, in timeline order, and the one the lightbox shows.
#[derive(Clone, Copy)]
pub struct Gallery {
    images: StoredValue<Vec<AttachmentInfo>>,
    open: RwSignal<Option<usize>>,
    /// The image whose thumbnail opened the lightbox: it gets the focus back on closing.
    opener: StoredValue<Option<usize>>,
}

impl Gallery {
    /// The gallery of a ticket page, for its entries and its `Lightbox`.
    pub fn provide<'a>(files: impl IntoIterator<Item = &'a AttachmentInfo>) -> Gallery {
        let gallery = Gallery {
            images: StoredValue::new(Vec::new()),
            open: RwSignal::new(None),
            opener: StoredValue::new(None),
        };
        gallery.show_files(files);
        provide_context(gallery);
        gallery
    }

    /// The ticket's files changed (an entry arrived while the page was open).
    pub fn show_files<'a>(&self, files: impl IntoIterator<Item = &'a AttachmentInfo>) {
        let images = files
            .into_iter()
            .filter(|f| shows_as_image(f))
            .cloned()
            .collect();
        self.images.set_value(images);
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.images
            .with_value(|images| images.iter().position(|image| image.id == id))
    }

    fn len(&self) -> usize {
        self.images.with_value(Vec::len)
    }

    fn show(&self, index: usize) {
        self.opener.set_value(Some(index));
        self.open.set(Some(index));
    }

    /// One image on (`1`) or back (`-1`), staying within the gallery.
    fn step(&self, by: isize) {
        let last = self.len().saturating_sub(1);
        self.open.update(|open| {
            if let Some(index) = open {
                *index = index.saturating_add_signed(by).min(last);
            }
        });
    }
}

/// Images the lightbox can show: those with a preview (HEIC, and images whose preview is not
/// made yet, show as cards).
fn shows_as_image(file: &AttachmentInfo) -> bool {
    file.content_type.starts_with("image/") && file.preview.is_some()
}

/// The short name of a file's format, as its card shows it.
fn type_label(content_type: &str, lang: Lang) -> &'static str {
    match content_type {
        "image/jpeg" => "JPEG",
        "image/png" => "PNG",
        "image/webp" => "WebP",
        "image/gif" => "GIF",
        "image/heif" => "HEIC",
        "video/mp4" => "MP4",
        "video/webm" => "WebM",
        "video/quicktime" => "MOV",
        "audio/ogg" => "Ogg",
        "audio/mp4" => "M4A",
        "audio/wav" => "WAV",
        "application/pdf" => "PDF",
        "application/zip" => "ZIP",
        "text/csv" => "CSV",
        "image/svg+xml" => "SVG",
        "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "Word",
        "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "Excel",
        "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            "PowerPoint"
        }
        "application/vnd.oasis.opendocument.text"
        | "application/vnd.oasis.opendocument.spreadsheet"
        | "application/vnd.oasis.opendocument.presentation" => "OpenDocument",
        _ => Msg::FileKindText.text(lang),
    }
}

/// "PDF · 1,2 MB".
fn meta_of(file: &AttachmentInfo, lang: Lang) -> String {
    format!(
        "{} · {}",
        type_label(&file.content_type, lang),
        human_size(file.size, lang)
    )
}

/// The files of one timeline entry: pictures and cards in a grid, then videos at full width
/// (so they do not break the grid's rows).
#[component]
pub fn EntryFiles(mut files: Vec<AttachmentInfo>) -> impl IntoView {
    files.sort_by_key(|file| file.content_type.starts_with("video/"));
    view! {
        <ul class="file-grid">
            {files.into_iter().map(|file| view! { <FileItem file /> }).collect_view()}
        </ul>
    }
}

#[component]
fn FileItem(file: AttachmentInfo) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let url = file.download_url();
    let meta = meta_of(&file, lang);
    let caption = {
        let (url, name, download) = (url.clone(), file.name.clone(), file.name.clone());
        view! {
            <div class="file-caption">
                <a href=url download=download class="file-name" data-testid="attachment-link">
                    {name}
                </a>
                <span class="file-meta">{meta}</span>
            </div>
        }
    };
    let gallery = use_context::<Gallery>();
    if let (Some(gallery), Some(size), true) = (gallery, file.preview, shows_as_image(&file)) {
        let index = gallery.index_of(&file.id);
        // Opens the lightbox, unless the person asked for the file in a new tab or window.
        let open = move |ev: leptos::ev::MouseEvent| {
            let plain = ev.button() == 0 && !(ev.ctrl_key() || ev.meta_key() || ev.shift_key());
            if let (Some(index), true) = (index, plain) {
                ev.prevent_default();
                gallery.show(index);
            }
        };
        return view! {
            <li class="file file-image">
                <a
                    href=url
                    class="file-thumb"
                    data-testid="attachment-thumbnail"
                    data-gallery-index=index.map(|i| i.to_string())
                    on:click=open
                >
                    <img
                        src=file.preview_url()
                        alt=file.name.clone()
                        width=size.width
                        height=size.height
                        loading="lazy"
                        decoding="async"
                    />
                </a>
                {caption}
            </li>
        }
        .into_any();
    }
    if file.content_type.starts_with("video/") {
        let fallback = url.clone();
        // Starting a tenth of a second in makes the player fetch and show a first frame: the
        // poster, without the server decoding any video.
        let src = format!("{url}#t=0.1");
        return view! {
            <li class="file file-video">
                <video
                    class="file-player"
                    controls=true
                    preload="metadata"
                    src=src
                    data-testid="attachment-video"
                >
                    <a href=fallback download=file.name.clone()>{t(Msg::FileVideoUnsupported)}</a>
                </video>
                {caption}
            </li>
        }
        .into_any();
    }
    let tile = match file.preview {
        Some(size) => view! {
            <img
                src=file.preview_url()
                alt=Msg::FilePdfFirstPage.fill(lang, &[("name", &file.name)])
                width=size.width
                height=size.height
                loading="lazy"
                decoding="async"
            />
        }
        .into_any(),
        None => view! {
            <span class="file-type" aria-hidden="true">{type_label(&file.content_type, lang)}</span>
        }
        .into_any(),
    };
    let kind = if file.content_type == "application/pdf" {
        "file file-pdf"
    } else {
        "file file-card"
    };
    view! {
        <li class=kind>
            // The tile repeats the name link, so it is skipped by keyboards and screen readers.
            <a href=url download=file.name.clone() class="file-thumb" tabindex="-1" aria-hidden="true">
                {tile}
            </a>
            {caption}
        </li>
    }
    .into_any()
}

/// The ticket page's lightbox: a modal dialog with the larger picture of one image, its name,
/// size and download link, and previous and next. The native modal `<dialog>` keeps the focus
/// within it and closes on Escape; the focus then returns to the thumbnail that opened it.
#[component]
pub fn Lightbox() -> impl IntoView {
    let Some(gallery) = use_context::<Gallery>() else {
        return ().into_any();
    };
    if gallery.len() == 0 {
        return ().into_any();
    }
    let t = use_t();
    let lang = use_prefs().lang;
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let download = NodeRef::<leptos::html::A>::new();
    let close_button = NodeRef::<leptos::html::Button>::new();
    let previous = NodeRef::<leptos::html::Button>::new();
    let next = NodeRef::<leptos::html::Button>::new();
    // Where a swipe began (pointer x), to tell its direction when it ends.
    let swipe_from = StoredValue::new(None::<i32>);

    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else { return };
        match gallery.open.get() {
            Some(_) if !dialog.open() && dialog.show_modal().is_ok() => {
                if let Some(button) = close_button.get_untracked() {
                    let _ = button.focus();
                }
            }
            None if dialog.open() => dialog.close(),
            _ => {}
        }
    });
    let close = move || gallery.open.set(None);
    // After Escape, the close button or a click beside the picture.
    let on_close = move |_| {
        gallery.open.set(None);
        if let Some(index) = gallery.opener.get_value() {
            let thumbnail = document()
                .query_selector(&format!("[data-gallery-index=\"{index}\"]"))
                .ok()
                .flatten();
            if let Some(thumbnail) = thumbnail {
                use leptos::wasm_bindgen::JsCast;
                if let Ok(thumbnail) = thumbnail.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = thumbnail.focus();
                }
            }
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowLeft" => {
            ev.prevent_default();
            gallery.step(-1);
        }
        "ArrowRight" => {
            ev.prevent_default();
            gallery.step(1);
        }
        // A modal dialog lets Tab leave for the browser's own controls: wrap around instead.
        "Tab" => {
            let first = download.get_untracked();
            let last = [next, previous]
                .into_iter()
                .filter_map(|button| button.get_untracked())
                .find(|button| !button.disabled())
                .or_else(|| close_button.get_untracked());
            let (Some(first), Some(last), Some(active)) =
                (first, last, document().active_element())
            else {
                return;
            };
            let (from, to): (&leptos::web_sys::HtmlElement, &leptos::web_sys::HtmlElement) =
                if ev.shift_key() {
                    (&first, &last)
                } else {
                    (&last, &first)
                };
            if from.is_same_node(Some(&active)) {
                ev.prevent_default();
                let _ = to.focus();
            }
        }
        _ => {}
    };
    let on_pointer_down = move |ev: leptos::ev::PointerEvent| {
        if ev.pointer_type() != "mouse" {
            swipe_from.set_value(Some(ev.client_x()));
        }
    };
    let on_pointer_up = move |ev: leptos::ev::PointerEvent| {
        if let Some(from) = swipe_from.get_value() {
            swipe_from.set_value(None);
            let moved = ev.client_x() - from;
            if moved.abs() > 48 {
                gallery.step(if moved < 0 { 1 } else { -1 });
            }
        }
    };
    let total = gallery.len();
    let current = move || {
        let index = gallery.open.get()?;
        let image = gallery
            .images
            .with_value(|images| images.get(index).cloned())?;
        Some((index, image))
    };
    view! {
        <dialog
            class="lightbox"
            node_ref=dialog
            aria-labelledby="lightbox-title"
            data-testid="lightbox"
            on:close=on_close
            on:keydown=on_key
        >
            <div class="lightbox-bar">
                <div class="lightbox-heading">
                    <h2 id="lightbox-title" class="lightbox-name">
                        {move || current().map(|(_, image)| image.name)}
                    </h2>
                    <p class="lightbox-meta" data-testid="lightbox-position" aria-live="polite">
                        {move || {
                            current()
                                .map(|(index, image)| {
                                    let position = Msg::LightboxPosition
                                        .fill(
                                            lang,
                                            &[("n", &(index + 1).to_string()), ("total", &total.to_string())],
                                        );
                                    format!("{position} · {}", meta_of(&image, lang))
                                })
                        }}
                    </p>
                </div>
                <a
                    class="btn btn-secondary lightbox-download"
                    node_ref=download
                    href=move || current().map(|(_, image)| image.download_url())
                    download=move || current().map(|(_, image)| image.name)
                >
                    {t(Msg::FileDownload)}
                </a>
                <button
                    type="button"
                    class="btn btn-ghost lightbox-close"
                    node_ref=close_button
                    aria-label=t(Msg::LightboxClose)
                    on:click=move |_| close()
                >
                    <span aria-hidden="true">"×"</span>
                </button>
            </div>
            <div
                class="lightbox-stage"
                on:pointerdown=on_pointer_down
                on:pointerup=on_pointer_up
                on:click=move |ev| {
                    if event_target::<leptos::web_sys::Element>(&ev).class_name() == "lightbox-stage" {
                        close();
                    }
                }
            >
                {move || {
                    current()
                        .and_then(|(_, image)| {
                            let (src, size) = image.display_picture()?;
                            Some(view! {
                                <img src=src alt=image.name width=size.width height=size.height />
                            })
                        })
                }}
            </div>
            <button
                type="button"
                class="lightbox-step lightbox-previous"
                node_ref=previous
                aria-label=t(Msg::LightboxPrevious)
                disabled=move || gallery.open.get().is_none_or(|index| index == 0)
                on:click=move |_| gallery.step(-1)
            >
                <span aria-hidden="true">"‹"</span>
            </button>
            <button
                type="button"
                class="lightbox-step lightbox-next"
                node_ref=next
                aria-label=t(Msg::LightboxNext)
                disabled=move || gallery.open.get().is_none_or(|index| index + 1 >= total)
                on:click=move |_| gallery.step(1)
            >
                <span aria-hidden="true">"›"</span>
            </button>
        </dialog>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn lengths_read_as_a_clock_rounded_to_the_second() {
        assert_eq!(clock(2_006), "0:02");
        assert_eq!(clock(42_600), "0:43");
        assert_eq!(clock(247_000), "4:07");
        assert_eq!(clock(3_723_000), "1:02:03");
    }
}
