//! `bench-voice`: the built-in speech engine as a person recording a voice comment feels it,
//! on this machine. `scripts/bench-voice.sh` builds it in release and runs it; the figures go
//! in docs/PERFORMANCE.md.
//!
//! - Streamed comments of each length (default 10, 30 and 120 s of espeak-ng Spanish, encoded
//!   as WebM/Opus like Chromium's MediaRecorder): the chunks are fed to `voice_live` in real
//!   time, one a second, with the partial text brought up to date on the WebSocket's schedule
//!   (`voice_live::PARTIAL_EVERY`). Printed: the time from the first second of speech to the
//!   first partial text, and from stop to the final transcript.
//! - The same recordings transcribed whole after upload: the real-time factor.
//! - The word error rate on the espeak set (the tests' sentences, as one passage and one by
//!   one), Spanish and English.
//! - The process's peak resident memory, with the model loaded.
//!
//! It needs `CUPULA_SPEECH_MODEL` (the model file), espeak-ng and ffmpeg.
//!
//!     bench-voice [SECONDS...]      (default 10 30 120)

use app::backend::accounts::{authenticate, sign_in, ClientInfo, Viewer};
use app::backend::config::Config;
use app::backend::demo;
use app::backend::files::FileStore;
use app::backend::storage::testing::fresh_database;
use app::backend::transcription::{self, Pass, Recording, Transcriber};
use app::backend::voice_live::{self, StopOutcome};
use app::model::Role;
use bytes::Bytes;
use std::process::Command;
use std::time::{Duration, Instant};

/// The espeak set: what the speech tests say.
const ESPEAK_SET: &str = include_str!("../../../app/tests/fixtures/espeak-set.txt");

/// The sentences of the espeak set in `language`.
fn sentences(language: &str) -> Vec<&'static str> {
    ESPEAK_SET
        .lines()
        .filter_map(|line| line.strip_prefix(language)?.strip_prefix(' '))
        .collect()
}

/// Runs a tool, answering its standard output.
fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (scripts/lib.sh installs it): {e}"));
    assert!(output.status.success(), "{program} {args:?} failed");
    output.stdout
}

/// `text` said by espeak-ng in `voice`: 16 kHz mono samples, and the same as WebM/Opus.
fn speak(voice: &str, text: &str, seconds: Option<u64>) -> (Vec<f32>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wav = dir.path().join("speech.wav");
    let wav = wav.to_str().expect("a UTF-8 path");
    run("espeak-ng", &["-v", voice, "-w", wav, text]);
    let length = seconds.map(|s| s.to_string());
    let mut cut = vec!["-v", "error", "-i", wav];
    if let Some(length) = &length {
        cut.extend(["-t", length]);
    }
    let pcm = run(
        "ffmpeg",
        &[&cut[..], &["-ar", "16000", "-ac", "1", "-f", "s16le", "-"]].concat(),
    );
    let webm = run(
        "ffmpeg",
        &[
            &cut[..],
            &[
                "-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-f", "webm", "-",
            ],
        ]
        .concat(),
    );
    let samples = pcm
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    (samples, webm)
}

/// Spanish speech of at least `seconds`: the espeak set said as often as needed, cut there.
fn comment_of(seconds: u64) -> (Vec<f32>, Vec<u8>) {
    let passage = sentences("es").join(" ");
    // The passage lasts about 26 s.
    let times = (seconds / 26 + 1) as usize;
    speak("es", &vec![passage; times].join(" "), Some(seconds))
}

/// The peak resident memory of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// What one streamed comment cost.
struct Streamed {
    first_partial: Option<Duration>,
    stop_to_final: Duration,
    partials: usize,
    text: String,
}

/// Feeds `webm` to `voice_live` as the browser streams a recording of `seconds`: a chunk a
/// second, in real time, with partial texts on the server's schedule; then stops it.
async fn stream(site: &Site, key: &str, webm: &[u8], seconds: u64, language: &str) -> Streamed {
    let (mut live, _) = voice_live::start(
        &site.db,
        &site.store,
        &site.config,
        &site.client,
        key,
        "audio/webm;codecs=opus",
        Some(language),
    )
    .await
    .expect("a live recording");
    let chunk_bytes = webm.len().div_ceil(seconds as usize);
    let chunks: Vec<&[u8]> = webm.chunks(chunk_bytes).collect();
    let started = Instant::now();
    let mut first_partial = None;
    let mut partials = 0;
    let mut running: Option<tokio::task::JoinHandle<Option<String>>> = None;
    let mut next_partial = Duration::ZERO;
    for (seq, chunk) in chunks.iter().enumerate() {
        // MediaRecorder hands over a second of audio once that second is over.
        let due = Duration::from_secs(seq as u64 + 1);
        loop {
            if running.as_ref().is_some_and(|job| job.is_finished()) {
                if let Some(text) = running.take().expect("a job").await.expect("no panic") {
                    if !text.is_empty() {
                        partials += 1;
                        first_partial.get_or_insert(started.elapsed());
                    }
                }
            }
            // The WebSocket's ticks: one that finds a partial still being made is skipped.
            let now = started.elapsed();
            if now >= next_partial {
                next_partial += voice_live::PARTIAL_EVERY;
                if running.is_none() {
                    if let Some(job) = live.partial_job() {
                        running = Some(tokio::spawn(job.run()));
                    }
                }
            }
            if now >= due {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        live.chunk(seq as u32, Bytes::copy_from_slice(chunk))
            .await
            .expect("a stored chunk");
    }
    // The person presses stop: a partial in the making is dropped, as the WebSocket does.
    if let Some(job) = running.take() {
        job.abort();
    }
    let stopped = Instant::now();
    let outcome = live.stop(chunks.len() as u32).await.expect("stopped");
    assert!(matches!(outcome, StopOutcome::Stored { .. }), "{outcome:?}");
    let done = live.transcript().await.expect("a transcript");
    let stop_to_final = stopped.elapsed();
    let text = done.text.unwrap_or_default();
    live.discard().await.expect("discarded");
    Streamed {
        // From the start of speech: the recording's first instant.
        first_partial,
        stop_to_final,
        partials,
        text,
    }
}

struct Site {
    db: app::backend::storage::Db,
    store: FileStore,
    config: Config,
    client: Viewer,
}

async fn site(model: &str, data_dir: &std::path::Path) -> (Site, impl Sized) {
    let fresh = fresh_database().await.expect("a fresh database");
    let db = fresh.db.clone();
    let config = Config::load(None, |key| match key {
        "CUPULA_SPEECH_MODEL" => Some(model.to_string()),
        "CUPULA_DATA_DIR" => Some(data_dir.display().to_string()),
        _ => None,
    })
    .expect("the configuration");
    let store = FileStore::from_config(&config).expect("the file store");
    let accounts = demo::seed_if_empty(&db)
        .await
        .expect("demo accounts")
        .expect("an empty database");
    let account = accounts
        .iter()
        .find(|a| a.role == Role::Client)
        .expect("a demo client");
    let observatory = db
        .default_observatory()
        .await
        .expect("the observatory")
        .expect("one observatory");
    let client_info = ClientInfo {
        user_agent: "bench-voice".into(),
        ip: "127.0.0.1".into(),
    };
    let signed_in = sign_in(
        &db,
        &config,
        observatory.id,
        &account.email,
        &account.password,
        &client_info,
    )
    .await
    .expect("signed in");
    let client = authenticate(&db, &config, &signed_in.token)
        .await
        .expect("a session")
        .expect("a viewer");
    (
        Site {
            db,
            store,
            config,
            client,
        },
        fresh,
    )
}

/// The word error rate of the whole passage and of its sentences one by one.
async fn wer_of(transcriber: &Transcriber, language: &str, sentences: &[&str]) -> (f64, f64) {
    let passage = sentences.join(" ");
    let (samples, _) = speak(language, &passage, None);
    let recording = Recording {
        bytes: Bytes::from(transcription::wav_file(&samples)),
        content_type: "audio/wav".into(),
        language: language.into(),
    };
    let heard = {
        let _turn = transcription::turn().await;
        transcriber
            .transcribe(recording)
            .await
            .expect("a transcript")
    };
    let (errors, words) = transcription::word_errors(&passage, &heard);
    let passage_rate = errors as f64 / words as f64;
    let (mut errors, mut words) = (0, 0);
    for sentence in sentences {
        let (samples, _) = speak(language, sentence, None);
        let _turn = transcription::turn().await;
        let heard = transcriber
            .transcribe_pcm(samples.into(), language, Pass::Final)
            .await
            .expect("a transcript");
        let (e, w) = transcription::word_errors(sentence, &heard);
        errors += e;
        words += w;
    }
    (passage_rate, errors as f64 / words as f64)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let lengths: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("lengths in seconds"))
        .collect();
    let lengths = if lengths.is_empty() {
        vec![10, 30, 120]
    } else {
        lengths
    };
    let model = std::env::var("CUPULA_SPEECH_MODEL")
        .expect("CUPULA_SPEECH_MODEL names the model file (scripts/bench-voice.sh sets it)");
    let data_dir = tempfile::tempdir().expect("a data dir");
    let (site, _kept) = site(&model, data_dir.path()).await;
    let transcriber = Transcriber::from_config(&site.config);
    assert!(
        matches!(transcriber, Transcriber::Builtin(_)),
        "the built-in engine"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cores: {cores}  model: {model}");

    // The model is loaded on first use: a second of silence loads it.
    let loading = Instant::now();
    {
        let _turn = transcription::turn().await;
        let mut tone = vec![0f32; 16_000];
        tone[8_000] = 0.5;
        transcriber
            .transcribe_pcm(tone.into(), "es", Pass::Draft)
            .await
            .expect("the model loads");
    }
    println!(
        "model load and a first window: {:.2} s",
        loading.elapsed().as_secs_f64()
    );

    println!();
    println!("streamed comment (Spanish), chunks in real time:");
    for (i, &seconds) in lengths.iter().enumerate() {
        let (samples, webm) = comment_of(seconds);
        let key = format!("{:032x}", 0xbe4c_0000_u64 + i as u64);
        let streamed = stream(&site, &key, &webm, seconds, "es").await;
        let first = streamed
            .first_partial
            .map_or("none".to_string(), |t| format!("{:.2} s", t.as_secs_f64()));
        println!(
            "  {seconds:>4} s: first partial text {first} after speech starts, {} partials; \
             stop to final transcript {:.2} s ({} words)",
            streamed.partials,
            streamed.stop_to_final.as_secs_f64(),
            streamed.text.split_whitespace().count(),
        );

        let recording = Recording {
            bytes: Bytes::from(webm),
            content_type: "video/webm".into(),
            language: "es".into(),
        };
        let whole = Instant::now();
        {
            let _turn = transcription::turn().await;
            transcriber
                .transcribe(recording)
                .await
                .expect("a transcript");
        }
        let taken = whole.elapsed().as_secs_f64();
        let audio = samples.len() as f64 / 16_000.0;
        println!(
            "         uploaded whole: {taken:.2} s for {audio:.1} s of audio (real-time factor {:.2})",
            taken / audio
        );
    }

    println!();
    println!("word error rate on the espeak set (final pass):");
    for language in ["es", "en"] {
        let (passage, phrases) = wer_of(&transcriber, language, &sentences(language)).await;
        println!(
            "  {language}: passage {:.1}%, sentences one by one {:.1}%",
            passage * 100.0,
            phrases * 100.0
        );
    }
    println!(
        "word error rate of the passage streamed in real time (windows kept while it is said):"
    );
    for (i, language) in ["es", "en"].into_iter().enumerate() {
        let reference = sentences(language).join(" ");
        let (samples, webm) = speak(language, &reference, None);
        let seconds = (samples.len() as u64).div_ceil(16_000);
        let key = format!("{:032x}", 0x5e4c_0000_u64 + i as u64);
        let streamed = stream(&site, &key, &webm, seconds, language).await;
        let (errors, words) = transcription::word_errors(&reference, &streamed.text);
        println!(
            "  {language}: {:.1}% ({seconds} s; stop to final transcript {:.2} s)",
            errors as f64 * 100.0 / words as f64,
            streamed.stop_to_final.as_secs_f64()
        );
    }
    println!();
    println!("peak resident memory: {:.0} MiB", peak_rss_mib());
}
