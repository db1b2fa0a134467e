//! Voice comments on a real database and file store: the containers browsers record in,
//! what is refused, the duration limit, the HTTP transcription engine against a fake
//! OpenAI-compatible server, the "unavailable" state, search, staff re-runs and who may
//! reach the recording.

use crate::common;

use app::backend::accounts::Viewer;
use app::backend::attachments;
use app::backend::config::Config;
use app::backend::tickets::{self, NewTicket};
use app::backend::voice::{self, NewVoice};
use app::backend::voice_live;
use app::i18n::Msg;
use app::model::{Priority, RequestType, TicketFilter, TimelineEntry, TranscriptState};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use bytes::Bytes;
use common::{config_with, file_site, user_msg, FileSite};
use futures_util::stream;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WEBM: &[u8] = include_bytes!("../../../server/tests/fixtures/voice.webm");
const OGG: &[u8] = include_bytes!("../../../server/tests/fixtures/voice.ogg");
const M4A: &[u8] = include_bytes!("../../../server/tests/fixtures/voice.m4a");
const MP4: &[u8] = include_bytes!("../../../server/tests/fixtures/voice.mp4");
const VIDEO: &[u8] = include_bytes!("../../../server/tests/fixtures/video.webm");
const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

/// The key the fake speech server wants.
const SPEECH_KEY: &str = "sk-test-voz";

/// `seconds` of a 440 Hz tone as 8 kHz mono 16-bit WAV.
fn wav(seconds: f64) -> Vec<u8> {
    let rate: u32 = 8000;
    let samples = (seconds * rate as f64) as u32;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(samples * 2).to_le_bytes());
    for n in 0..samples {
        let t = n as f64 / rate as f64;
        let sample = ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16;
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    bytes
}

/// What the fake speech server was sent: the form's text fields and the file's size.
#[derive(Debug, Clone, Default)]
struct Call {
    authorization: Option<String>,
    model: Option<String>,
    language: Option<String>,
    response_format: Option<String>,
    file_bytes: usize,
    file_type: Option<String>,
}

/// An OpenAI-compatible `POST /v1/audio/transcriptions` on a free port: it wants the bearer
/// key and a file, and answers `text`. Returns its address and what it was sent.
async fn fake_speech_server(text: &'static str) -> (String, Arc<Mutex<Vec<Call>>>) {
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    async fn transcribe(
        State((calls, text)): State<(Arc<Mutex<Vec<Call>>>, &'static str)>,
        headers: HeaderMap,
        mut form: Multipart,
    ) -> (StatusCode, Json<Value>) {
        let mut call = Call {
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            ..Call::default()
        };
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                call.file_type = field.content_type().map(str::to_string);
                call.file_bytes = field.bytes().await.map(|b| b.len()).unwrap_or(0);
            } else {
                let value = field.text().await.ok();
                match name.as_str() {
                    "model" => call.model = value,
                    "language" => call.language = value,
                    "response_format" => call.response_format = value,
                    _ => {}
                }
            }
        }
        let authorized = call.authorization.as_deref() == Some(&format!("Bearer {SPEECH_KEY}"));
        let complete = call.file_bytes > 0 && call.model.is_some() && call.language.is_some();
        calls.lock().unwrap().push(call);
        if !authorized {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": { "message": "bad key" } })),
            );
        }
        if !complete {
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": "fields" })));
        }
        (StatusCode::OK, Json(json!({ "text": format!(" {text} ") })))
    }
    let router = axum::Router::new()
        .route("/v1/audio/transcriptions", axum::routing::post(transcribe))
        .with_state((calls.clone(), text));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, calls)
}

/// The file fixtures, with this file's own helpers.
struct Site(FileSite);

impl std::ops::Deref for Site {
    type Target = FileSite;
    fn deref(&self) -> &FileSite {
        &self.0
    }
}

async fn site(config: Config) -> Site {
    Site(file_site(config).await)
}

impl Site {
    async fn open(&self, who: &Viewer) -> String {
        let new = NewTicket {
            organization_id: None,
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::Medium,
            subject: "La cúpula",
            comment: "Mensaje de voz a continuación.",
            attachments: &[],
        };
        tickets::open_ticket(self.db(), &self.events, &self.config, who, new)
            .await
            .unwrap()
            .number
    }

    async fn add(
        &self,
        who: &Viewer,
        number: &str,
        name: &str,
        bytes: &[u8],
        new: NewVoice<'_>,
    ) -> Result<i64, app::backend::error::ServiceError> {
        // Sent in chunks, as a form field streams.
        let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
            .chunks(1000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        voice::add_voice(
            self.db(),
            &self.store,
            &self.events,
            &self.config,
            who,
            number,
            NewVoice {
                file_name: name,
                ..new
            },
            stream::iter(chunks),
        )
        .await
    }

    async fn retranscribe(
        &self,
        who: &Viewer,
        number: &str,
        entry: i64,
    ) -> Result<i64, app::backend::error::ServiceError> {
        voice::retranscribe(
            self.db(),
            &self.store,
            &self.events,
            &self.config,
            who,
            number,
            entry,
        )
        .await
    }

    async fn entry(&self, who: &Viewer, number: &str, id: i64) -> TimelineEntry {
        voice::entry(self.db(), &self.config, who, number, id)
            .await
            .unwrap()
    }

    /// The entry once its transcript is no longer pending (the job runs after the request).
    async fn settled(&self, who: &Viewer, number: &str, id: i64) -> TimelineEntry {
        let started = Instant::now();
        loop {
            let entry = self.entry(who, number, id).await;
            let state = entry.voice.as_ref().unwrap().state;
            if state != TranscriptState::Pending || started.elapsed() > Duration::from_secs(60) {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn each_browser_container_is_accepted_with_its_duration_and_without_an_engine_says_unavailable(
) {
    let site = site(config_with(&[])).await;
    let number = site.open(&site.ana).await;
    let wav = wav(2.0);
    for (name, bytes, content_type) in [
        ("chrome.webm", WEBM, "video/webm"),
        ("firefox.ogg", OGG, "audio/ogg"),
        ("safari.mp4", MP4, "video/mp4"),
        ("nota.m4a", M4A, "audio/mp4"),
        ("grabadora.wav", &wav[..], "audio/wav"),
    ] {
        let id = site
            .add(&site.ana, &number, name, bytes, NewVoice::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let entry = site.entry(&site.ana, &number, id).await;
        let voice = entry.voice.expect("a voice entry");
        // Two seconds each (the encoders add a few milliseconds of padding).
        assert!(
            (1900..=2200).contains(&voice.duration_ms),
            "{name}: {} ms",
            voice.duration_ms
        );
        assert_eq!(voice.state, TranscriptState::Unavailable, "{name}");
        assert_eq!(voice.language, "es", "{name}: the person's portal language");
        assert_eq!(voice.transcript, None);
        let audio = voice.audio.expect("the recording");
        assert_eq!(audio.content_type, content_type, "{name}");
        assert!(audio.inline, "{name}: played in the page");
        // The recording is the player's, not listed again as a file of the entry.
        assert!(entry.attachments.is_empty(), "{name}");
        let download = attachments::for_download(site.db(), &site.store, &site.ana, &audio.id)
            .await
            .unwrap();
        assert_eq!(download.info.size, bytes.len() as u64);
    }
}

#[tokio::test]
async fn a_pdf_named_webm_and_a_video_are_refused_and_nothing_of_them_is_kept() {
    let site = site(config_with(&[])).await;
    let number = site.open(&site.ana).await;
    for (name, bytes) in [
        ("voz.webm", PDF),
        ("camara.webm", VIDEO),
        ("voz.ogg", b"OggS"),
    ] {
        let refused = site
            .add(&site.ana, &number, name, bytes, NewVoice::default())
            .await;
        assert_eq!(user_msg(refused), Msg::ErrorVoiceNotAudio, "{name}");
    }
    assert!(site.store.list().await.unwrap().is_empty());
    let ticket = tickets::ticket(site.db(), &site.config, &site.ana, &number)
        .await
        .unwrap();
    assert_eq!(ticket.timeline.len(), 1, "only the request's first entry");
    // The positive control: a recording is accepted on the same ticket.
    site.add(&site.ana, &number, "voz.webm", WEBM, NewVoice::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_recording_longer_than_the_configured_limit_is_refused() {
    let short = site(config_with(&[("CUPULA_MAX_VOICE_SECONDS", "1".into())])).await;
    let number = short.open(&short.ana).await;
    let refused = short
        .add(&short.ana, &number, "voz.ogg", OGG, NewVoice::default())
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorVoiceTooLong);
    assert!(short.store.list().await.unwrap().is_empty());
    // MediaRecorder's WebM says no duration in its header: its packets are counted.
    let refused = short
        .add(&short.ana, &number, "voz.webm", WEBM, NewVoice::default())
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorVoiceTooLong);
    let roomy = site(config_with(&[("CUPULA_MAX_VOICE_SECONDS", "3".into())])).await;
    let number = roomy.open(&roomy.ana).await;
    roomy
        .add(&roomy.ana, &number, "voz.ogg", OGG, NewVoice::default())
        .await
        .unwrap();
    // A language the engine does not know is refused before anything is stored.
    let refused = roomy
        .add(
            &roomy.ana,
            &number,
            "voz.ogg",
            OGG,
            NewVoice {
                language: Some("klingon"),
                ..NewVoice::default()
            },
        )
        .await;
    assert_eq!(user_msg(refused), Msg::ErrorVoiceLanguage);
}

#[tokio::test]
async fn the_http_engine_transcribes_after_the_commit_and_the_transcript_is_searchable() {
    let (url, calls) = fake_speech_server("La cúpula no abre desde ayer").await;
    let site = site(config_with(&[
        ("CUPULA_TRANSCRIPTION_URL", url),
        ("CUPULA_TRANSCRIPTION_API_KEY", SPEECH_KEY.into()),
        ("CUPULA_TRANSCRIPTION_MODEL", "whisper-base".into()),
    ]))
    .await;
    let number = site.open(&site.ana).await;
    // Not a word of it is in the request yet.
    assert!(site.search(&site.ana, "ayer").await.is_empty());
    let id = site
        .add(&site.ana, &number, "voz.webm", WEBM, NewVoice::default())
        .await
        .unwrap();
    let entry = site.settled(&site.ana, &number, id).await;
    let voice = entry.voice.unwrap();
    assert_eq!(voice.state, TranscriptState::Done);
    assert_eq!(
        voice.transcript.as_deref(),
        Some("La cúpula no abre desde ayer")
    );
    assert_eq!(voice.edited_text, None);
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(call.model.as_deref(), Some("whisper-base"));
        assert_eq!(call.language.as_deref(), Some("es"));
        assert_eq!(call.response_format.as_deref(), Some("json"));
        assert_eq!(call.file_bytes, WEBM.len());
        assert_eq!(call.file_type.as_deref(), Some("video/webm"));
    }
    // Searchable within the entry's scope: her organization finds it, another does not.
    assert_eq!(site.search(&site.ana, "ayer").await, vec![number.clone()]);
    let found = tickets::list(
        site.db(),
        &site.ana,
        &TicketFilter {
            query: "ayer".into(),
            ..TicketFilter::default()
        },
    )
    .await
    .unwrap();
    let excerpt = found.items[0]
        .excerpt
        .clone()
        .expect("an excerpt of the transcript");
    assert!(
        excerpt.iter().any(|s| s.hit && s.text == "ayer"),
        "{excerpt:?}"
    );
    assert_eq!(
        site.search(&site.bruno, "cúpula abre").await,
        vec![number.clone()]
    );
    assert_eq!(site.search(&site.agent, "ayer").await, vec![number.clone()]);
    assert!(site.search(&site.carla, "ayer").await.is_empty());

    // A language said on the recorder, and the person's own fix: both texts are kept.
    let fixed = site
        .add(
            &site.bruno,
            &number,
            "voice.ogg",
            OGG,
            NewVoice {
                language: Some("en"),
                edited_text: Some("La cúpula no abre desde anoche"),
                ..NewVoice::default()
            },
        )
        .await
        .unwrap();
    let voice = site
        .settled(&site.bruno, &number, fixed)
        .await
        .voice
        .unwrap();
    assert_eq!(voice.state, TranscriptState::Done);
    assert_eq!(
        voice.transcript.as_deref(),
        Some("La cúpula no abre desde ayer")
    );
    assert_eq!(
        voice.edited_text.as_deref(),
        Some("La cúpula no abre desde anoche")
    );
    assert_eq!(voice.text(), Some("La cúpula no abre desde anoche"));
    assert_eq!(calls.lock().unwrap()[1].language.as_deref(), Some("en"));
    assert_eq!(site.search(&site.ana, "anoche").await, vec![number]);
}

#[tokio::test]
async fn a_speech_server_that_refuses_leaves_the_transcript_pending_for_a_later_try() {
    let (url, calls) = fake_speech_server("no se usa").await;
    let site = site(config_with(&[
        ("CUPULA_TRANSCRIPTION_URL", url),
        ("CUPULA_TRANSCRIPTION_API_KEY", "sk-wrong".into()),
    ]))
    .await;
    let number = site.open(&site.ana).await;
    let id = site
        .add(&site.ana, &number, "voz.ogg", OGG, NewVoice::default())
        .await
        .unwrap();
    let started = Instant::now();
    while calls.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let voice = site.entry(&site.ana, &number, id).await.voice.unwrap();
    assert_eq!(voice.state, TranscriptState::Pending);
    assert_eq!(voice.transcript, None);
    assert_eq!(
        calls.lock().unwrap()[0].authorization.as_deref(),
        Some("Bearer sk-wrong")
    );
    // The sweep takes it up again (here against the same refusing server).
    assert_eq!(
        voice::transcribe_pending(site.db(), &site.store, &site.config)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn staff_run_the_transcription_again_as_a_new_entry_and_clients_may_not() {
    let (url, calls) = fake_speech_server("El telescopio no arranca").await;
    let site = site(config_with(&[
        ("CUPULA_TRANSCRIPTION_URL", url),
        ("CUPULA_TRANSCRIPTION_API_KEY", SPEECH_KEY.into()),
    ]))
    .await;
    let number = site.open(&site.ana).await;
    let first = site
        .add(&site.ana, &number, "voz.m4a", M4A, NewVoice::default())
        .await
        .unwrap();
    let original = site.settled(&site.ana, &number, first).await.voice.unwrap();
    assert_eq!(
        user_msg(site.retranscribe(&site.ana, &number, first).await),
        Msg::ErrorForbidden
    );
    assert_eq!(
        user_msg(site.retranscribe(&site.carla, &number, first).await),
        Msg::ErrorNotFound
    );
    let again = site
        .retranscribe(&site.agent, &number, first)
        .await
        .unwrap();
    assert!(again > first);
    let entry = site.settled(&site.ana, &number, again).await;
    assert_eq!(entry.author.as_deref(), Some("tomas"));
    let voice = entry.voice.unwrap();
    assert_eq!(voice.state, TranscriptState::Done);
    assert_eq!(
        voice.transcript.as_deref(),
        Some("El telescopio no arranca")
    );
    assert_eq!(voice.audio.unwrap().id, original.audio.unwrap().id);
    assert_eq!(voice.duration_ms, original.duration_ms);
    assert_eq!(calls.lock().unwrap().len(), 2);
    // Both entries stay in the timeline.
    let ticket = tickets::ticket(site.db(), &site.config, &site.ana, &number)
        .await
        .unwrap();
    assert_eq!(
        ticket.timeline.iter().filter(|e| e.voice.is_some()).count(),
        2
    );
}

#[tokio::test]
async fn a_client_of_another_organization_reaches_neither_the_entry_nor_its_recording() {
    let site = site(config_with(&[])).await;
    let number = site.open(&site.ana).await;
    let id = site
        .add(&site.ana, &number, "voz.ogg", OGG, NewVoice::default())
        .await
        .unwrap();
    let audio = site
        .entry(&site.ana, &number, id)
        .await
        .voice
        .unwrap()
        .audio
        .unwrap();
    // Her organization's other client plays it; the other organization's does not.
    assert!(
        attachments::for_download(site.db(), &site.store, &site.bruno, &audio.id)
            .await
            .is_ok()
    );
    assert_eq!(
        user_msg(attachments::for_download(site.db(), &site.store, &site.carla, &audio.id).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(voice::entry(site.db(), &site.config, &site.carla, &number, id).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(
            site.add(&site.carla, &number, "voz.ogg", OGG, NewVoice::default())
                .await
        ),
        Msg::ErrorNotFound
    );
    // A staff voice note stays among staff, its recording too; clients may not make one.
    let internal = NewVoice {
        internal: true,
        ..NewVoice::default()
    };
    assert_eq!(
        user_msg(
            site.add(&site.ana, &number, "voz.ogg", OGG, internal.clone())
                .await
        ),
        Msg::ErrorForbidden
    );
    let note = site
        .add(&site.agent, &number, "nota.ogg", OGG, internal)
        .await
        .unwrap();
    let note_audio = site
        .entry(&site.agent, &number, note)
        .await
        .voice
        .unwrap()
        .audio
        .unwrap();
    assert!(note_audio.internal);
    assert_eq!(
        user_msg(voice::entry(site.db(), &site.config, &site.ana, &number, note).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(
            attachments::for_download(site.db(), &site.store, &site.ana, &note_audio.id).await
        ),
        Msg::ErrorNotFound
    );
}

/// Feeds a recording to `voice_live` as a browser streams it: one chunk after another.
async fn stream_recording(
    site: &Site,
    who: &Viewer,
    key: &str,
    bytes: &[u8],
) -> voice_live::LiveRecording {
    stream_recording_as(site, who, key, "audio/webm;codecs=opus", bytes).await
}

/// The same, in the container `format` names.
async fn stream_recording_as(
    site: &Site,
    who: &Viewer,
    key: &str,
    format: &str,
    bytes: &[u8],
) -> voice_live::LiveRecording {
    let (mut live, ready) = voice_live::start(
        site.db(),
        &site.store,
        &site.config,
        who,
        key,
        format,
        Some("es"),
    )
    .await
    .unwrap();
    assert_eq!(ready.next, 0);
    for (seq, chunk) in bytes.chunks(700).enumerate() {
        let outcome = live
            .chunk(seq as u32, Bytes::copy_from_slice(chunk))
            .await
            .unwrap();
        assert_eq!(outcome, voice_live::ChunkOutcome::Ack(seq as u32));
    }
    live
}

#[tokio::test]
async fn a_streamed_recording_shows_partial_text_and_goes_with_the_message_with_its_transcript() {
    let (url, calls) = fake_speech_server("La cúpula no gira").await;
    let site = site(config_with(&[
        ("CUPULA_TRANSCRIPTION_URL", url),
        ("CUPULA_TRANSCRIPTION_API_KEY", SPEECH_KEY.into()),
        ("CUPULA_TRANSCRIPTION_MODEL", "whisper-base".into()),
    ]))
    .await;
    let number = site.open(&site.ana).await;
    let key = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
    let mut live = stream_recording(&site, &site.ana, key, WEBM).await;

    // While it is being recorded: the words so far, once a second of audio is decoded.
    let started = Instant::now();
    let partial = loop {
        if let Some(job) = live.partial_job() {
            if let Some(text) = job.run().await {
                break text;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no partial text"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(partial, "La cúpula no gira");
    let partial_calls = calls.lock().unwrap().len();
    assert!(partial_calls >= 1);

    let chunks = WEBM.len().div_ceil(700) as u32;
    let stored = live.stop(chunks).await.unwrap();
    let voice_live::StopOutcome::Stored { duration_ms } = stored else {
        panic!("not stored: {stored:?}");
    };
    assert!((1500..=2600).contains(&duration_ms), "{duration_ms}");
    let done = live.transcript().await.unwrap();
    assert_eq!(done.state, TranscriptState::Done);
    assert_eq!(done.text.as_deref(), Some("La cúpula no gira"));
    // Each window is a 16 kHz WAV of its own: the engine is never sent the container.
    assert!(calls
        .lock()
        .unwrap()
        .iter()
        .all(|c| c.file_type.as_deref() == Some("audio/wav")));

    // Sent unchanged: the machine's text, no edit; found by search.
    let entry_id = tickets::add_message_with_voice(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        "",
        false,
        &[],
        Some(tickets::VoiceSent {
            recording: key,
            text: Some("La cúpula no gira"),
        }),
        None,
    )
    .await
    .unwrap();
    let voice = site
        .entry(&site.ana, &number, entry_id)
        .await
        .voice
        .unwrap();
    assert_eq!(voice.state, TranscriptState::Done);
    assert_eq!(voice.transcript.as_deref(), Some("La cúpula no gira"));
    assert_eq!(voice.edited_text, None);
    assert!(voice.audio.is_some());
    assert_eq!(site.search(&site.ana, "gira").await, vec![number.clone()]);
    assert!(site.search(&site.carla, "gira").await.is_empty());

    // Sent with a word fixed: both are kept, and the fix is found too.
    let fixed_key = "1b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
    let mut live = stream_recording(&site, &site.ana, fixed_key, WEBM).await;
    live.stop(chunks).await.unwrap();
    live.transcript().await.unwrap();
    let fixed = tickets::add_message_with_voice(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        "",
        false,
        &[],
        Some(tickets::VoiceSent {
            recording: fixed_key,
            text: Some("La cúpula no gira hacia el este"),
        }),
        None,
    )
    .await
    .unwrap();
    let voice = site.entry(&site.ana, &number, fixed).await.voice.unwrap();
    assert_eq!(voice.transcript.as_deref(), Some("La cúpula no gira"));
    assert_eq!(
        voice.edited_text.as_deref(),
        Some("La cúpula no gira hacia el este")
    );
    assert_eq!(site.search(&site.ana, "este").await, vec![number]);
}

/// Seconds of audio in a 16 kHz 16-bit WAV the engine was sent.
fn seconds_sent(call: &Call) -> f64 {
    call.file_bytes.saturating_sub(44) as f64 / 32_000.0
}

#[tokio::test]
async fn a_long_recording_is_transcribed_while_it_streams_and_at_stop_only_its_last_seconds_are_left(
) {
    let (url, calls) = fake_speech_server("La cúpula no gira").await;
    let site = site(config_with(&[
        ("CUPULA_TRANSCRIPTION_URL", url),
        ("CUPULA_TRANSCRIPTION_API_KEY", SPEECH_KEY.into()),
        ("CUPULA_TRANSCRIPTION_MODEL", "whisper-base".into()),
    ]))
    .await;
    let recording = wav(65.0);
    let key = "2b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
    let mut live = stream_recording_as(&site, &site.ana, key, "audio/wav", &recording).await;

    // While it streams: complete windows (at most 29 s, cut at the quietest moment of their last
    // 3 s) are kept, each transcribed once, with the stretch after them shown as a draft.
    let started = Instant::now();
    let windows_kept = loop {
        if let Some(text) = match live.partial_job() {
            Some(job) => job.run().await,
            None => None,
        } {
            let windows = text.matches("La cúpula no gira").count();
            if windows >= 3 {
                break windows - 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no windows kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let before_stop = calls.lock().unwrap().len();
    assert!(
        calls
            .lock()
            .unwrap()
            .iter()
            .all(|c| seconds_sent(c) <= 29.0),
        "{:?}",
        calls
            .lock()
            .unwrap()
            .iter()
            .map(seconds_sent)
            .collect::<Vec<_>>()
    );

    let chunks = recording.len().div_ceil(700) as u32;
    live.stop(chunks).await.unwrap();
    let done = live.transcript().await.unwrap();
    let after_stop: Vec<f64> = calls.lock().unwrap()[before_stop..]
        .iter()
        .map(seconds_sent)
        .collect();

    // At stop only what followed the kept windows is transcribed, not the whole 65 s.
    assert_eq!(after_stop.len(), 1, "{after_stop:?}");
    assert!(
        after_stop[0] <= 65.0 - 26.0 * windows_kept as f64,
        "{after_stop:?}"
    );
    assert_eq!(done.state, TranscriptState::Done);
    let text = done.text.unwrap();
    assert_eq!(
        text.matches("La cúpula no gira").count(),
        windows_kept + 1,
        "{text}"
    );
}

#[tokio::test]
async fn a_recording_sent_before_its_transcript_gets_it_when_it_lands() {
    let (url, _calls) = fake_speech_server("El motor de azimut hace ruido").await;
    let site = site(config_with(&[
        ("CUPULA_TRANSCRIPTION_URL", url),
        ("CUPULA_TRANSCRIPTION_API_KEY", SPEECH_KEY.into()),
        ("CUPULA_TRANSCRIPTION_MODEL", "whisper-base".into()),
    ]))
    .await;
    let number = site.open(&site.ana).await;
    let key = "2b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
    let mut live = stream_recording(&site, &site.ana, key, WEBM).await;
    live.stop(WEBM.len().div_ceil(700) as u32).await.unwrap();
    // The person pressed send as soon as the recording was whole.
    let entry_id = tickets::add_message_with_voice(
        site.db(),
        &site.events,
        &site.config,
        &site.ana,
        &number,
        "",
        false,
        &[],
        Some(tickets::VoiceSent {
            recording: key,
            text: None,
        }),
        None,
    )
    .await
    .unwrap();
    let pending = site
        .entry(&site.ana, &number, entry_id)
        .await
        .voice
        .unwrap();
    assert_eq!(pending.state, TranscriptState::Pending);
    live.transcript().await.unwrap();
    let voice = site
        .entry(&site.ana, &number, entry_id)
        .await
        .voice
        .unwrap();
    assert_eq!(voice.state, TranscriptState::Done);
    assert_eq!(
        voice.transcript.as_deref(),
        Some("El motor de azimut hace ruido")
    );
    assert_eq!(site.search(&site.ana, "azimut").await, vec![number]);
}
