//! The built-in speech engine with the real model: Spanish and English support phrases
//! spoken by espeak-ng in the test, decoded and resampled by the portal, transcribed through
//! `Transcriber`, and scored by word error rate; silence gives no text; a recording longer
//! than one window is cut where the speaker pauses. And the HTTP engine's `transcribe_pcm`
//! against a fake OpenAI-compatible server.

use app::backend::audio::{self, DecodeLimits};
use app::backend::config::Config;
use app::backend::transcription::{self, window_end, Pass, Recording, Transcriber, WINDOW};
use axum::extract::{Multipart, State};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The espeak set: observatory support sentences, as clients say them at the telescope.
const ESPEAK_SET: &str = include_str!("../fixtures/espeak-set.txt");

/// The sentences of the espeak set in `language`.
fn sentences(language: &str) -> Vec<&'static str> {
    ESPEAK_SET
        .lines()
        .filter_map(|line| line.strip_prefix(language)?.strip_prefix(' '))
        .collect()
}

fn model() -> PathBuf {
    match std::env::var("CUPULA_TEST_SPEECH_MODEL") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "CUPULA_TEST_SPEECH_MODEL is not set: run scripts/test.sh (it provisions the model), \
             or set it to the ggml file `cupula speech-model convert` made"
        ),
    }
}

fn builtin() -> Transcriber {
    let model = model().display().to_string();
    let config = Config::load(None, |key| match key {
        "CUPULA_SPEECH_MODEL" => Some(model.clone()),
        _ => None,
    })
    .unwrap();
    let transcriber = Transcriber::from_config(&config);
    assert!(matches!(transcriber, Transcriber::Builtin(_)));
    transcriber
}

/// `text` spoken by espeak-ng in `voice` (a 22,050 Hz WAV), as the 16 kHz mono samples the
/// portal's own decoder makes of an uploaded WAV: the test hears what a voice comment gives
/// the engine, whatever resampler another program would have used.
fn speak(voice: &str, text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is installed (scripts/test.sh installs it)");
    assert!(status.success());
    let limits = DecodeLimits {
        max_duration: Duration::from_secs(120),
        time_limit: Duration::from_secs(30),
    };
    audio::decode_pcm(&std::fs::read(&wav).unwrap(), "audio/wav", limits).unwrap()
}

/// The word error rate of `heard` against `reference`, printed with both.
fn wer(what: &str, reference: &str, heard: &str) -> f64 {
    let (errors, words) = transcription::word_errors(reference, heard);
    eprintln!("[{what}] {reference:?} -> {heard:?} ({errors} errors in {words} words)");
    errors as f64 / words as f64
}

/// A whole recording, as a voice comment uploaded as WAV is transcribed.
async fn transcribe_recording(
    transcriber: &Transcriber,
    samples: &[f32],
    language: &str,
) -> String {
    let recording = Recording {
        bytes: Bytes::from(transcription::wav_file(samples)),
        content_type: "audio/wav".into(),
        language: language.into(),
    };
    let _turn = transcription::turn().await;
    transcriber.transcribe(recording).await.unwrap()
}

/// The espeak set: each language's sentences said one after another (26 s of Spanish, 23 s
/// of English), one recording each, as a client describes a problem in a few sentences.
/// Measured: Spanish 23.1% as decoded here (17.9-21.8% when the same speech came resampled by
/// ffmpeg or as WebM/Opus: the audio path alone moves it by a few words in 78), English 5.1%.
/// The targets (20% and 5%) are benchmark figures in docs/PERFORMANCE.md; the bounds
/// here leave room for that spread and still fail when the engine hears badly.
const PASSAGE_MAX_WER: [(&str, f64); 2] = [("es", 0.26), ("en", 0.08)];

#[tokio::test(flavor = "multi_thread")]
async fn spanish_and_english_passages_are_transcribed_within_the_measured_error_rates() {
    let transcriber = builtin();
    for (language, max) in PASSAGE_MAX_WER {
        assert_eq!(sentences(language).len(), 8, "the espeak set in {language}");
        let reference = sentences(language).join(" ");
        let samples = speak(language, &reference);
        let heard = transcribe_recording(&transcriber, &samples, language).await;
        let rate = wer(language, &reference, &heard);
        eprintln!("WER {language} passage: {:.1}%", rate * 100.0);
        assert!(rate <= max, "{language} WER {rate:.3}");
    }
}

/// One short sentence alone, as in a reply ("ya funciona, gracias"): Whisper has little
/// context, and espeak's Spanish voice is hard to follow. Measured: 41.0% Spanish, 16.7%
/// English (greedy decoding without the silent margin: 70.5% and 19.2%); kept as a floor
/// that must not get worse.
const PHRASE_MAX_WER: [(&str, f64); 2] = [("es", 0.45), ("en", 0.20)];

#[tokio::test(flavor = "multi_thread")]
async fn short_spanish_and_english_phrases_are_transcribed_within_the_measured_error_rates() {
    let transcriber = builtin();
    for (language, max) in PHRASE_MAX_WER {
        let (mut errors, mut words) = (0, 0);
        for sentence in sentences(language) {
            let samples: Arc<[f32]> = speak(language, sentence).into();
            let _turn = transcription::turn().await;
            let heard = transcriber
                .transcribe_pcm(samples, language, Pass::Final)
                .await
                .unwrap();
            wer(language, sentence, &heard);
            let (e, w) = transcription::word_errors(sentence, &heard);
            errors += e;
            words += w;
        }
        let rate = errors as f64 / words as f64;
        eprintln!("WER {language} phrases: {:.1}%", rate * 100.0);
        assert!(rate <= max, "{language} WER {rate:.3}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silence_gives_no_text() {
    let transcriber = builtin();
    let _turn = transcription::turn().await;
    for (seconds, level) in [(3usize, 0.0f32), (10, 0.0005)] {
        // Digital silence, and a faint hiss (a quiet room).
        let samples: Arc<[f32]> = (0..seconds * 16_000)
            .map(|i| level * (((i * 7919) % 200) as f32 / 100.0 - 1.0))
            .collect();
        for pass in [Pass::Draft, Pass::Final] {
            let text = transcriber
                .transcribe_pcm(samples.clone(), "es", pass)
                .await
                .unwrap();
            assert_eq!(text, "", "{seconds} s of silence at {level}, {pass:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_longer_than_a_window_is_cut_at_a_pause_and_transcribed_whole() {
    let transcriber = builtin();
    // About 52 s: a pause (espeak's sentence gap) falls near the end of the first window.
    let reference = format!("{0} {0}", sentences("es").join(" "));
    let samples = speak("es", &reference);
    assert!(samples.len() > WINDOW, "{} samples", samples.len());
    let cut = window_end(&samples, 0, false).unwrap();
    assert!(
        (WINDOW - 3 * 16_000..=WINDOW).contains(&cut),
        "cut at {cut}"
    );
    let around: f32 = samples[cut - 400..cut + 400]
        .iter()
        .map(|s| s.abs())
        .sum::<f32>()
        / 800.0;
    let overall: f32 = samples.iter().map(|s| s.abs()).sum::<f32>() / samples.len() as f32;
    assert!(
        around < overall / 4.0,
        "the cut is in a quiet stretch ({around} vs {overall})"
    );
    assert_eq!(
        window_end(&samples, cut, false),
        None,
        "less than a window left, still recording"
    );
    assert_eq!(window_end(&samples, cut, true), Some(samples.len()));

    let heard = transcribe_recording(&transcriber, &samples, "es").await;
    let rate = wer("two windows", &reference, &heard);
    // Measured 21.8% on this text.
    assert!(rate <= 0.25, "WER {rate:.3}");
}

/// What the fake speech server received.
#[derive(Debug, Clone)]
struct Call {
    language: String,
    wav: Vec<u8>,
}

async fn fake_speech_server() -> (String, Arc<Mutex<Vec<Call>>>) {
    async fn transcribe(
        State(calls): State<Arc<Mutex<Vec<Call>>>>,
        mut form: Multipart,
    ) -> Json<Value> {
        let (mut language, mut wav) = (String::new(), Vec::new());
        while let Ok(Some(field)) = form.next_field().await {
            match field.name().unwrap_or_default().to_string().as_str() {
                "language" => language = field.text().await.unwrap(),
                "file" => wav = field.bytes().await.unwrap().to_vec(),
                _ => {}
            }
        }
        calls.lock().unwrap().push(Call { language, wav });
        Json(json!({ "text": " La cúpula no abre. " }))
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let router = axum::Router::new()
        .route("/v1/audio/transcriptions", axum::routing::post(transcribe))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, calls)
}

#[tokio::test]
async fn the_http_engine_is_sent_a_window_as_a_wav_file_with_its_language() {
    let (url, calls) = fake_speech_server().await;
    let config = Config::load(None, |key| match key {
        "CUPULA_TRANSCRIPTION_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let transcriber = Transcriber::from_config(&config);
    assert!(matches!(transcriber, Transcriber::Http(_)));
    let samples: Arc<[f32]> = (0..48_000).map(|i| (i as f32 / 10.0).sin() * 0.5).collect();
    let text = transcriber
        .transcribe_pcm(samples.clone(), "en", Pass::Draft)
        .await
        .unwrap();
    assert_eq!(text, "La cúpula no abre.");
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].language, "en");
    let wav = &calls[0].wav;
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 1, "mono");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 16_000);
    assert_eq!(u16::from_le_bytes([wav[34], wav[35]]), 16, "16-bit");
    let data = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize;
    assert_eq!(data / 2, samples.len(), "every sample is sent");
    assert_eq!(wav.len(), 44 + data);
    let sample_100 = i16::from_le_bytes([wav[44 + 200], wav[45 + 200]]);
    assert!((f32::from(sample_100) / 32767.0 - samples[100]).abs() < 1e-3);
}

#[test]
fn a_window_waits_for_thirty_seconds_while_recording() {
    let samples = vec![0.1f32; WINDOW - 1];
    assert_eq!(window_end(&samples, 0, false), None);
    assert_eq!(window_end(&samples, 0, true), Some(WINDOW - 1));
    assert_eq!(window_end(&samples, WINDOW - 1, true), Some(WINDOW - 1));
    // A quiet tenth of a second two seconds before the limit is where the cut goes.
    let mut samples = vec![0.1f32; WINDOW + 5 * 16_000];
    let quiet = WINDOW - 2 * 16_000;
    samples[quiet..quiet + 1600]
        .iter_mut()
        .for_each(|s| *s = 0.0);
    let cut = window_end(&samples, 0, false).unwrap();
    assert!(
        (quiet..quiet + 1600).contains(&cut),
        "cut at {cut}, quiet at {quiet}"
    );
    let cut2 = window_end(&samples, 16_000, true).unwrap();
    assert!(cut2 <= 16_000 + WINDOW && cut2 > 16_000);
}
