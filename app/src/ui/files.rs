//! Adding files to a reply or a new request: a drop zone, a file picker (on phones it offers
//! the camera and the gallery) and paste of an image. Each file uploads on its own with tus
//! (`/api/v1/uploads`, in chunks, resuming from the server's offset after a failure) and gets a
//! row with its progress, speed and time left, and buttons to cancel or retry. A finished file's
//! staged attachment id goes into the form's hidden `attachments` field (comma-separated), which
//! the reply and new-request server functions commit with the text.
//!
//! The uploads need the wasm: before hydration the zone is shown but does nothing.

use crate::i18n::{Lang, Msg};
use crate::ui::prefs::{use_prefs, use_t};
use crate::use_portal;
use leptos::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "hydrate")]
use wasm_bindgen::JsCast;

/// What the picker offers: the types the server's allowlist accepts (`backend::file_types`).
/// Image types make phones offer the camera and the gallery.
const ACCEPTED_TYPES: &str = "image/jpeg,image/png,image/webp,image/gif,image/heic,image/heif,\
    .heic,.heif,video/mp4,video/webm,video/quicktime,.mov,application/pdf,text/plain,text/csv,\
    .txt,.csv,.log,image/svg+xml,.svg,application/zip,.zip,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.odp";

/// Where one file stands. (The server renders no rows: only the browser adds files.)
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum RowState {
    Uploading,
    /// A chunk failed: waiting to try again from the server's offset.
    Reconnecting,
    /// The browser has no network: waiting for it to come back, however long that takes.
    Offline,
    /// Uploaded and staged: the attachment id to send with the form.
    Done(String),
    /// Gave up after several failures; the retry button resumes it.
    Failed,
    /// The browser or the server refused it (too large, type, quota): the message to show.
    Refused(String),
}

impl RowState {
    /// For styles and tests (`data-state`).
    fn code(&self) -> &'static str {
        match self {
            RowState::Uploading => "uploading",
            RowState::Reconnecting => "reconnecting",
            RowState::Offline => "offline",
            RowState::Done(_) => "done",
            RowState::Failed => "failed",
            RowState::Refused(_) => "refused",
        }
    }

    fn running(&self) -> bool {
        matches!(
            self,
            RowState::Uploading | RowState::Reconnecting | RowState::Offline
        )
    }
}

/// One file in the list.
#[derive(Debug, Clone)]
struct FileRow {
    /// Tells rows apart (two files may have the same name).
    key: u64,
    name: String,
    size: u64,
    state: RwSignal<RowState>,
    /// Bytes the server has, plus those of the chunk in flight.
    sent: RwSignal<u64>,
    /// Bytes a second, smoothed; 0 until measured.
    rate: RwSignal<f64>,
    /// The percent the server already had when an upload started before a reload was resumed.
    resumed_from: RwSignal<Option<u64>>,
}

impl FileRow {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn new(name: String, size: u64) -> FileRow {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(1);
        FileRow {
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            name,
            size,
            state: RwSignal::new(RowState::Uploading),
            sent: RwSignal::new(0),
            rate: RwSignal::new(0.0),
            resumed_from: RwSignal::new(None),
        }
    }
}

/// A file size as people read it: "820 KB", "1,4 MB" (decimal units, one decimal past a MB).
pub fn human_size(bytes: u64, lang: Lang) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let text = if unit == 0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    let text = match lang {
        Lang::Es => text.replace('.', ","),
        Lang::En => text,
    };
    format!("{text} {}", UNITS[unit])
}

/// A duration as "45 s", "3 min 20 s" or "1 h 5 min" (the same in both languages).
fn human_duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// The ids of the finished files, as the hidden `attachments` field carries them.
fn attachment_field(rows: &[FileRow]) -> String {
    rows.iter()
        .filter_map(|row| match row.state.get() {
            RowState::Done(id) => Some(id),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The uploader of a form. `uploading` is kept true while any file is on its way (the form's
/// send button waits); when `sent` turns true the form was sent with the files, and the list
/// empties.
#[component]
pub fn FileUploader(uploading: RwSignal<bool>, #[prop(into)] sent: Signal<bool>) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let max_file_bytes = use_portal().max_file_bytes;
    let rows = RwSignal::new(Vec::<FileRow>::new());
    // Enter and leave events come from the children too: count them to know when the pointer
    // really left the zone.
    let drag_depth = RwSignal::new(0i32);
    let picker = NodeRef::<leptos::html::Input>::new();
    let zone = NodeRef::<leptos::html::Div>::new();

    Effect::new(move |_| {
        let running = rows.with(|rows| rows.iter().any(|row| row.state.with(RowState::running)));
        uploading.set(running);
    });
    Effect::new(move |_| {
        if sent.get() {
            #[cfg(feature = "hydrate")]
            rows.with_untracked(|rows| rows.iter().for_each(|row| transfer::forget(row.key)));
            rows.set(Vec::new());
        }
    });
    #[cfg(feature = "hydrate")]
    {
        // Leaving the page with uploads running asks first.
        let before_unload = window_event_listener(leptos::ev::beforeunload, move |ev| {
            if uploading.get_untracked() {
                ev.prevent_default();
                // Older browsers ask only when this is set; none shows the text.
                ev.set_return_value(Msg::WaitingForUploads.text(lang));
            }
        });
        // Following one of the portal's links changes the page without unloading it, so the
        // browser does not ask: the page does, before the router (which listens on the
        // window, after the document) takes the click.
        let link_click = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::MouseEvent)>::new(
            move |ev: web_sys::MouseEvent| {
                if uploading.get_untracked()
                    && opens_another_page(&ev)
                    && !window()
                        .confirm_with_message(Msg::LeaveWhileUploading.text(lang))
                        .unwrap_or(true)
                {
                    ev.prevent_default();
                }
            },
        )
        .into_js_value();
        let _ = document().add_event_listener_with_callback("click", link_click.unchecked_ref());
        let link_click = StoredValue::new_local(link_click);
        // An image pasted anywhere in this form is added like a picked file.
        let paste = window_event_listener(leptos::ev::paste, move |ev| {
            let in_form = zone
                .get_untracked()
                .and_then(|zone| zone.closest("form").ok().flatten())
                .zip(ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok()))
                .is_some_and(|(form, target)| form.contains(Some(&target)));
            let files = ev
                .clipboard_data()
                .map(|data| transfer::files_of(data.files()))
                .unwrap_or_default();
            if in_form && !files.is_empty() {
                ev.prevent_default();
                add_files(files, rows, lang, max_file_bytes);
            }
        });
        on_cleanup(move || {
            before_unload.remove();
            link_click.with_value(|listener| {
                let _ = document()
                    .remove_event_listener_with_callback("click", listener.unchecked_ref());
            });
            paste.remove();
            rows.try_with_untracked(|rows| rows.iter().for_each(|row| transfer::forget(row.key)));
        });
    }

    // Set once the page's script runs: until then the form posts its files itself.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let hint = (max_file_bytes > 0)
        .then(|| Msg::FilesHint.fill(lang, &[("size", &human_size(max_file_bytes, lang))]));
    view! {
        <div class="uploader field" role="group" aria-labelledby="uploader-title" node_ref=zone>
            <span class="field-label" id="uploader-title">{t(Msg::FilesLabel)}</span>
            <input
                type="hidden"
                name="attachments"
                prop:value=move || rows.with(|rows| attachment_field(rows))
            />
            <div
                class=move || { if drag_depth.get() > 0 { "dropzone is-hover" } else { "dropzone" } }
                data-testid="dropzone"
                on:dragenter=move |ev| {
                    ev.prevent_default();
                    drag_depth.update(|depth| *depth += 1);
                }
                on:dragover=move |ev| ev.prevent_default()
                on:dragleave=move |_| drag_depth.update(|depth| *depth = (*depth - 1).max(0))
                on:drop=move |ev| {
                    ev.prevent_default();
                    drag_depth.set(0);
                    #[cfg(feature = "hydrate")]
                    {
                        let files = ev
                            .data_transfer()
                            .map(|data| transfer::files_of(data.files()))
                            .unwrap_or_default();
                        add_files(files, rows, lang, max_file_bytes);
                    }
                }
            >
                <p class="dropzone-text">{t(Msg::FilesDropHere)}</p>
                <button
                    type="button"
                    class="btn btn-secondary"
                    hidden=move || !hydrated.get()
                    on:click=move |_| {
                        if let Some(picker) = picker.get() {
                            picker.click();
                        }
                    }
                >
                    {t(Msg::FilesChoose)}
                </button>
                // Before the script runs this is the form's own file field, posted with it
                // (`multipart/form-data`); after, it has no name: the files travel by tus and
                // the form carries only their ids.
                <input
                    type="file"
                    class=move || if hydrated.get() { "visually-hidden" } else { "file-picker-plain" }
                    name=move || (!hydrated.get()).then_some("file")
                    multiple=true
                    accept=ACCEPTED_TYPES
                    tabindex=move || hydrated.get().then_some("-1")
                    // Once hydrated, the button above is the way to it.
                    aria-hidden=move || hydrated.get().then_some("true")
                    aria-label=t(Msg::FilesChoose)
                    data-testid="file-input"
                    node_ref=picker
                    on:change=move |_| {
                        #[cfg(feature = "hydrate")]
                        if let Some(input) = picker.get() {
                            add_files(transfer::files_of(input.files()), rows, lang, max_file_bytes);
                            // The same file may be picked again after removing it.
                            input.set_value("");
                        }
                    }
                />
                {hint.map(|hint| view! { <p class="field-hint">{hint}</p> })}
            </div>
            <ul class="upload-list" aria-live="polite">
                <For each=move || rows.get() key=|row| row.key let:row>
                    <UploadItem row rows />
                </For>
            </ul>
        </div>
    }
    .into_any()
}

/// Whether a click follows a link that the portal's router opens in place of this page: as
/// the router decides, a plain click on a link to another page of this site that neither
/// downloads nor opens elsewhere.
#[cfg(feature = "hydrate")]
fn opens_another_page(ev: &web_sys::MouseEvent) -> bool {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.alt_key()
        || ev.ctrl_key()
        || ev.shift_key()
    {
        return false;
    }
    let Some(link) = ev
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .and_then(|element| element.closest("a[href]").ok().flatten())
        .and_then(|element| element.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    else {
        return false;
    };
    let here = window().location();
    link.target().is_empty()
        && !link.has_attribute("download")
        && !link
            .rel()
            .split_ascii_whitespace()
            .any(|rel| rel == "external")
        && here.origin().is_ok_and(|origin| origin == link.origin())
        && (here.pathname().ok() != Some(link.pathname())
            || here.search().ok() != Some(link.search()))
}

/// Starts uploading files the person added; those the page can already tell are refused
/// (empty, or larger than a file may be) get their row with the reason and are not sent.
#[cfg(feature = "hydrate")]
fn add_files(files: Vec<web_sys::File>, rows: RwSignal<Vec<FileRow>>, lang: Lang, max: u64) {
    for file in files {
        let size = file.size() as u64;
        let row = FileRow::new(file.name(), size);
        rows.update(|rows| rows.push(row.clone()));
        let refusal = if size == 0 {
            Some(Msg::ErrorFileEmpty)
        } else if max > 0 && size > max {
            Some(Msg::ErrorFileTooLarge)
        } else {
            None
        };
        match refusal {
            Some(msg) => row.state.set(RowState::Refused(msg.text(lang).to_string())),
            None => {
                transfer::register(row.key, file);
                transfer::start(row, lang);
            }
        }
    }
}

#[component]
fn UploadItem(row: FileRow, rows: RwSignal<Vec<FileRow>>) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let FileRow {
        key,
        name,
        size,
        state,
        sent,
        rate,
        resumed_from,
    } = row.clone();
    let percent = move || {
        if state.with(|s| matches!(s, RowState::Done(_))) {
            100
        } else {
            (sent.get().min(size) * 100).checked_div(size).unwrap_or(0)
        }
    };
    let status = move || match state.get() {
        RowState::Uploading => {
            let rate = rate.get();
            if let Some(percent) = resumed_from.get().filter(|_| rate == 0.0) {
                Msg::FileResuming.fill(lang, &[("percent", &percent.to_string())])
            } else if rate > 0.0 {
                let left = size.saturating_sub(sent.get()) as f64 / rate;
                Msg::FileSpeedTimeLeft.fill(
                    lang,
                    &[
                        ("speed", &human_size(rate as u64, lang)),
                        ("time", &human_duration(left.ceil() as u64)),
                    ],
                )
            } else {
                t(Msg::FileUploading).to_string()
            }
        }
        RowState::Reconnecting => t(Msg::FileReconnecting).to_string(),
        RowState::Offline => t(Msg::FileOffline).to_string(),
        RowState::Done(_) => t(Msg::FileDone).to_string(),
        RowState::Failed => t(Msg::FileFailed).to_string(),
        RowState::Refused(message) => message,
    };
    let label = |msg: Msg| msg.fill(lang, &[("name", &row.name)]);
    let (cancel_label, remove_label, retry_label, progress_label) = (
        label(Msg::FileCancelLabel),
        label(Msg::FileRemoveLabel),
        label(Msg::FileRetryLabel),
        label(Msg::FileProgressLabel),
    );
    // The accessible name keeps the visible word ("Cancel" while running, "Remove" after).
    let remove_or_cancel_label = move || {
        if state.with(RowState::running) {
            cancel_label.clone()
        } else {
            remove_label.clone()
        }
    };
    let remove = move |_| {
        #[cfg(feature = "hydrate")]
        transfer::cancel(key, lang);
        rows.update(|rows| rows.retain(|r| r.key != key));
    };
    let retry_row = row.clone();
    let retry = move |_| {
        #[cfg(feature = "hydrate")]
        transfer::start(retry_row.clone(), lang);
        #[cfg(not(feature = "hydrate"))]
        let _ = &retry_row;
    };
    view! {
        <li class="upload-item" data-testid="upload-item" data-state=move || state.with(|s| s.code())>
            <div class="upload-head">
                <span class="upload-name">{name}</span>
                <span class="muted">{human_size(size, lang)}</span>
            </div>
            <div
                class="progress"
                role="progressbar"
                aria-label=progress_label
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || percent().to_string()
            >
                <div class="progress-bar" style:width=move || format!("{}%", percent())></div>
            </div>
            <div class="upload-foot">
                <p
                    class=move || {
                        if state.with(|s| matches!(s, RowState::Refused(_) | RowState::Failed)) {
                            "upload-status upload-error"
                        } else {
                            "upload-status muted"
                        }
                    }
                    role=move || state.with(|s| matches!(s, RowState::Refused(_) | RowState::Failed)).then_some("alert")
                >
                    {status}
                </p>
                <div class="cluster">
                    <Show when=move || state.with(|s| *s == RowState::Failed)>
                        <button type="button" class="btn btn-secondary" aria-label=retry_label.clone() on:click=retry.clone()>
                            {t(Msg::FileRetry)}
                        </button>
                    </Show>
                    <button type="button" class="btn btn-ghost" aria-label=remove_or_cancel_label on:click=remove>
                        {move || t(if state.with(RowState::running) { Msg::FileCancel } else { Msg::FileRemove })}
                    </button>
                </div>
            </div>
        </li>
    }
}

/// The browser's side of tus: one job per file, its bytes sent by XMLHttpRequest in chunks
/// (so `upload.onprogress` moves the bar smoothly), resumed from the server's offset.
#[cfg(feature = "hydrate")]
mod transfer {
    use super::{FileRow, RowState};
    use crate::i18n::{Lang, Msg};
    use base64::Engine;
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Blob, File, FileList, ProgressEvent, XmlHttpRequest};

    const UPLOADS_URL: &str = "/api/v1/uploads";
    /// Small enough that a cut costs little and a phone's memory is spared, large enough that
    /// the requests do not dominate.
    const CHUNK_BYTES: u64 = 4 * 1024 * 1024;
    /// Failures in a row before the row shows "retry"; the waits between them double from 1 s.
    const ATTEMPTS: u32 = 5;

    /// What the page keeps of a file while it uploads. Not `Send` (browser objects), hence
    /// here and not in the row's signals; the page has one thread.
    struct Job {
        file: File,
        /// The upload's address, once created.
        url: Option<String>,
        /// What the server has, when known; after a failure it is asked again (`HEAD`).
        offset: Option<u64>,
        /// The request in flight, to abort on cancel.
        request: Option<XmlHttpRequest>,
        running: bool,
        /// The upload's address came from a record left by an earlier page: not yet confirmed.
        from_record: bool,
    }

    thread_local! {
        static JOBS: RefCell<HashMap<u64, Job>> = RefCell::new(HashMap::new());
    }

    fn with_job<R>(key: u64, f: impl FnOnce(&mut Job) -> R) -> Option<R> {
        JOBS.with(|jobs| jobs.borrow_mut().get_mut(&key).map(f))
    }

    pub fn files_of(list: Option<FileList>) -> Vec<File> {
        let Some(list) = list else {
            return Vec::new();
        };
        (0..list.length()).filter_map(|i| list.get(i)).collect()
    }

    /// Keeps a file to upload. If an earlier page left a record of an upload of the same
    /// file, the job begins by asking the server where that one stands.
    pub fn register(key: u64, file: File) {
        let url = record::find(&file);
        JOBS.with(|jobs| {
            jobs.borrow_mut().insert(
                key,
                Job {
                    from_record: url.is_some(),
                    file,
                    url,
                    offset: None,
                    request: None,
                    running: false,
                },
            )
        });
    }

    /// Records in `localStorage` of uploads created and not yet finished, so that one survives
    /// a reload or a phone putting the page to sleep: the file added again resumes it.
    mod record {
        use web_sys::{File, Storage};

        /// A file's identity: its name and size. Not `lastModified`, which a file may not keep
        /// from one pick to the next (pickers that copy, and test tools, give it "now").
        fn key(file: &File) -> String {
            format!("cupula.upload:{}:{}", file.size() as u64, file.name())
        }

        fn storage() -> Option<Storage> {
            web_sys::window()?.local_storage().ok().flatten()
        }

        pub fn find(file: &File) -> Option<String> {
            storage()?.get_item(&key(file)).ok().flatten()
        }

        /// Best effort: without storage (private mode, full) the upload just cannot survive a
        /// reload.
        pub fn keep(file: &File, url: &str) {
            if let Some(storage) = storage() {
                let _ = storage.set_item(&key(file), url);
            }
        }

        pub fn remove(file: &File) {
            if let Some(storage) = storage() {
                let _ = storage.remove_item(&key(file));
            }
        }
    }

    /// What the browser knows of its network.
    mod network {
        use wasm_bindgen_futures::JsFuture;

        /// The browser knows it has no network (`navigator.onLine`; true proves nothing).
        pub fn offline() -> bool {
            web_sys::window().is_some_and(|window| !window.navigator().on_line())
        }

        /// Returns once the browser is online again.
        pub async fn back_online() {
            let Some(window) = web_sys::window() else {
                return;
            };
            let online = js_sys::Promise::new(&mut |resolve, _| {
                let options = web_sys::AddEventListenerOptions::new();
                options.set_once(true);
                let _ = window.add_event_listener_with_callback_and_add_event_listener_options(
                    "online", &resolve, &options,
                );
            });
            // The network may have come back before the listener was there.
            if offline() {
                let _ = JsFuture::from(online).await;
            }
        }
    }

    /// Drops a job (its file was sent with the form, or the form is gone), stopping its
    /// request; what the server has stays until it expires.
    pub fn forget(key: u64) {
        if let Some(request) = JOBS
            .with(|jobs| jobs.borrow_mut().remove(&key))
            .and_then(|job| job.request)
        {
            let _ = request.abort();
        }
    }

    /// Stops a file's upload and deletes what the server has of it (the partial upload, or
    /// the staged file it became).
    pub fn cancel(key: u64, lang: Lang) {
        let Some(job) = JOBS.with(|jobs| jobs.borrow_mut().remove(&key)) else {
            return;
        };
        record::remove(&job.file);
        if let Some(request) = job.request {
            let _ = request.abort();
        }
        if let Some(url) = job.url {
            leptos::task::spawn_local(async move {
                // The server may still be writing the aborted chunk: then it answers 409.
                for wait in [0, 500, 2_000] {
                    TimeoutFuture::new(wait).await;
                    match send(None, "DELETE", &url, lang, &[], None, None).await {
                        Some(answer) if answer.status == 409 => continue,
                        _ => break,
                    }
                }
            });
        }
    }

    /// Uploads (or resumes) a row's file unless it is already on its way.
    pub fn start(row: FileRow, lang: Lang) {
        let was_running = with_job(row.key, |job| std::mem::replace(&mut job.running, true));
        if was_running != Some(false) {
            return;
        }
        row.state.set(RowState::Uploading);
        leptos::task::spawn_local(async move {
            let outcome = run(&row, lang).await;
            // Cancelled meanwhile: the row is gone.
            let Some(file) = with_job(row.key, |job| {
                job.running = false;
                job.file.clone()
            }) else {
                return;
            };
            // Finished or refused, there is nothing left to resume; a failure keeps it.
            if !matches!(outcome, Err(Stop::Failed)) {
                record::remove(&file);
            }
            row.rate.set(0.0);
            row.state.set(match outcome {
                Ok(attachment_id) => RowState::Done(attachment_id),
                Err(Stop::Refused(message)) => RowState::Refused(message),
                Err(Stop::Failed) => RowState::Failed,
            });
        });
    }

    enum Stop {
        Refused(String),
        Failed,
    }

    /// Why a step did not go on.
    enum Hitch {
        /// The network or the server failed: try again from the server's offset.
        Transient,
        /// The server refused the file: its message.
        Refused(String),
    }

    async fn run(row: &FileRow, lang: Lang) -> Result<String, Stop> {
        let mut failures = 0;
        loop {
            match step(row, lang).await {
                Ok(Some(attachment_id)) => return Ok(attachment_id),
                Ok(None) => failures = 0,
                Err(Hitch::Refused(message)) => return Err(Stop::Refused(message)),
                Err(Hitch::Transient) if network::offline() => {
                    // Attempts without a network say nothing of the upload: rather than use
                    // them up, wait for it, however long the phone is out of reach.
                    if with_job(row.key, |job| job.offset = None).is_none() {
                        return Err(Stop::Failed);
                    }
                    row.state.set(RowState::Offline);
                    row.rate.set(0.0);
                    network::back_online().await;
                    // Cancelled, or the form gone, meanwhile.
                    if with_job(row.key, |_| ()).is_none() {
                        return Err(Stop::Failed);
                    }
                    failures = 0;
                    row.state.set(RowState::Uploading);
                }
                Err(Hitch::Transient) => {
                    failures += 1;
                    if failures >= ATTEMPTS || with_job(row.key, |_| ()).is_none() {
                        return Err(Stop::Failed);
                    }
                    with_job(row.key, |job| job.offset = None);
                    row.state.set(RowState::Reconnecting);
                    row.rate.set(0.0);
                    TimeoutFuture::new(1_000 << (failures - 1)).await;
                    row.state.set(RowState::Uploading);
                }
            }
        }
    }

    /// One request: create the upload, ask for its offset, or send the next chunk. `Some`:
    /// the file is complete and staged under that attachment id.
    async fn step(row: &FileRow, lang: Lang) -> Result<Option<String>, Hitch> {
        let key = row.key;
        let (file, url, offset) =
            with_job(key, |job| (job.file.clone(), job.url.clone(), job.offset))
                .ok_or(Hitch::Transient)?;
        let Some(url) = url else {
            let metadata = format!(
                "filename {}",
                base64::engine::general_purpose::STANDARD.encode(file.name())
            );
            let headers = [
                ("Upload-Length", row.size.to_string()),
                ("Upload-Metadata", metadata),
            ];
            let answer = send(Some(key), "POST", UPLOADS_URL, lang, &headers, None, None)
                .await
                .ok_or(Hitch::Transient)?;
            if answer.status != 201 {
                return Err(answer.hitch(lang));
            }
            let location = answer.header("Location").ok_or(Hitch::Transient)?;
            record::keep(&file, &location);
            with_job(key, |job| {
                job.url = Some(location);
                job.offset = Some(0);
            });
            return Ok(None);
        };
        let offset = match offset {
            Some(offset) => offset,
            None => {
                let answer = send(Some(key), "HEAD", &url, lang, &[], None, None)
                    .await
                    .ok_or(Hitch::Transient)?;
                if answer.status == 404 {
                    // Expired meanwhile (or a record of someone else's): begin again.
                    record::remove(&file);
                    with_job(key, |job| {
                        job.url = None;
                        job.from_record = false;
                    });
                    return Ok(None);
                }
                if answer.status != 200 {
                    return Err(answer.hitch(lang));
                }
                if let Some(attachment_id) = answer.header("Cupula-Attachment-Id") {
                    return Ok(Some(attachment_id));
                }
                let offset = answer.offset().ok_or(Hitch::Transient)?;
                let resumed = with_job(key, |job| {
                    job.offset = Some(offset);
                    std::mem::take(&mut job.from_record)
                });
                if resumed == Some(true) {
                    row.resumed_from.set(Some(offset * 100 / row.size));
                }
                row.sent.set(offset);
                offset
            }
        };
        let end = (offset + CHUNK_BYTES).min(row.size);
        let chunk = file
            .slice_with_f64_and_f64(offset as f64, end as f64)
            .map_err(|_| Hitch::Transient)?;
        let (sent, rate) = (row.sent, row.rate);
        let started = js_sys::Date::now();
        let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
            let loaded = ev.loaded();
            // The form may be gone while the last bytes leave.
            sent.try_set(offset + loaded as u64);
            let seconds = (js_sys::Date::now() - started) / 1000.0;
            if let Some(before) = rate.try_get_untracked().filter(|_| seconds > 0.5) {
                let now = loaded / seconds;
                rate.try_set(if before > 0.0 {
                    0.7 * before + 0.3 * now
                } else {
                    now
                });
            }
        });
        let headers = [
            (
                "Content-Type",
                "application/offset+octet-stream".to_string(),
            ),
            ("Upload-Offset", offset.to_string()),
        ];
        let answer = send(
            Some(key),
            "PATCH",
            &url,
            lang,
            &headers,
            Some(chunk),
            Some(&progress),
        )
        .await
        .ok_or(Hitch::Transient)?;
        match answer.status {
            204 | 200 => {
                let stored = answer.offset().ok_or(Hitch::Transient)?;
                with_job(key, |job| job.offset = Some(stored));
                sent.set(stored);
                Ok(answer.header("Cupula-Attachment-Id"))
            }
            // Not where the server stands (another tab, a retried chunk): ask it and go on.
            409 => Err(Hitch::Transient),
            _ => Err(answer.hitch(lang)),
        }
    }

    /// An answer that arrived.
    struct Answer {
        status: u16,
        request: XmlHttpRequest,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<String> {
            self.request.get_response_header(name).ok().flatten()
        }

        fn offset(&self) -> Option<u64> {
            self.header("Upload-Offset")?.trim().parse().ok()
        }

        /// A server error (or none: a proxy's page) is worth retrying; a refusal shows the
        /// server's translated message (`{"error":{"code","message"}}`).
        fn hitch(&self, lang: Lang) -> Hitch {
            if self.status == 0 || self.status >= 500 || self.status == 423 {
                return Hitch::Transient;
            }
            let message = self
                .request
                .response_text()
                .ok()
                .flatten()
                .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                .and_then(|json| json["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| Msg::ErrorUploadRefused.text(lang).to_string());
            Hitch::Refused(message)
        }
    }

    /// Sends one tus request in the page's language. `None`: it never got an answer (network
    /// down, aborted). `key` names the job whose request it is, so a cancel can abort it.
    async fn send(
        key: Option<u64>,
        method: &str,
        url: &str,
        lang: Lang,
        headers: &[(&str, String)],
        body: Option<Blob>,
        progress: Option<&Closure<dyn FnMut(ProgressEvent)>>,
    ) -> Option<Answer> {
        let request = XmlHttpRequest::new().ok()?;
        request.open_with_async(method, url, true).ok()?;
        request.set_request_header("Tus-Resumable", "1.0.0").ok()?;
        request
            .set_request_header("Accept-Language", lang.code())
            .ok()?;
        for (name, value) in headers {
            request.set_request_header(name, value).ok()?;
        }
        if let (Some(progress), Ok(upload)) = (progress, request.upload()) {
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        }
        let finished = js_sys::Promise::new(&mut |resolve, reject| {
            request.set_onload(Some(&resolve));
            request.set_onerror(Some(&reject));
            request.set_onabort(Some(&reject));
            request.set_ontimeout(Some(&reject));
        });
        if let Some(key) = key {
            with_job(key, |job| job.request = Some(request.clone()));
        }
        let started = match &body {
            Some(body) => request.send_with_opt_blob(Some(body)),
            None => request.send(),
        };
        let outcome = match started {
            Ok(()) => JsFuture::from(finished).await.ok(),
            Err(_) => None,
        };
        if let Some(key) = key {
            with_job(key, |job| job.request = None);
        }
        outcome?;
        Some(Answer {
            status: request.status().unwrap_or(0),
            request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(999, Lang::Es), "999 B");
        assert_eq!(human_size(820_400, Lang::Es), "820 KB");
        assert_eq!(human_size(1_449_000, Lang::Es), "1,4 MB");
        assert_eq!(human_size(1_449_000, Lang::En), "1.4 MB");
        assert_eq!(human_size(2_147_483_648, Lang::En), "2.1 GB");
    }

    #[test]
    fn durations_read_in_the_largest_units() {
        assert_eq!(human_duration(45), "45 s");
        assert_eq!(human_duration(200), "3 min 20 s");
        assert_eq!(human_duration(3_900), "1 h 5 min");
    }
}
