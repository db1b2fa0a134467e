//! Decoding recordings to the speech engine's 16 kHz mono: every container and codec browsers
//! record in, made here by ffmpeg (shaped like the browsers' files) and recorded by Chromium's
//! MediaRecorder; whole files and chunk by chunk while they arrive; and what is refused.

use app::backend::audio::{decode_pcm, AudioError, DecodeLimits, LiveDecoder, SAMPLE_RATE};
use bytes::Bytes;
use std::process::Command;
use std::time::Duration;

/// Recorded by Chromium 5 s long, `new MediaRecorder(stream, {mimeType, audioBitsPerSecond:
/// 32000})` with `start(1000)`, the fake microphone (`--use-fake-device-for-media-stream
/// --use-file-for-fake-audio-capture`) playing espeak-ng's "El telescopio no abre la cúpula
/// desde ayer. Revisen el motor, por favor." at 48 kHz; the chunks as `ondataavailable`
/// gave them, concatenated. The WebM has an unknown-size Segment and Clusters, no Cues and no
/// duration; the MP4 (`audio/mp4;codecs=opus`) is fragmented (moof + mdat per chunk).
const CHROMIUM_WEBM: &[u8] =
    include_bytes!("../../../server/tests/fixtures/chromium-mediarecorder.webm");
const CHROMIUM_WEBM_CHUNKS: &[usize] = &[4547, 4527, 3955, 4186, 3695];
const CHROMIUM_MP4: &[u8] =
    include_bytes!("../../../server/tests/fixtures/chromium-mediarecorder.mp4");
const CHROMIUM_MP4_CHUNKS: &[usize] = &[641, 9668, 4117, 4294, 3225];
const VIDEO: &[u8] = include_bytes!("../../../server/tests/fixtures/video.webm");
const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

const LIMITS: DecodeLimits = DecodeLimits {
    max_duration: Duration::from_secs(300),
    time_limit: Duration::from_secs(60),
};

/// One Opus packet (20 ms) at 16 kHz.
const OPUS_PACKET: usize = 320;
/// One AAC packet (1024 frames) at 16 kHz from 44.1 kHz, and its encoder's priming packet,
/// which an MP4 signals in an edit list that is not applied.
const AAC_PACKETS: usize = 2 * 372;

/// Runs ffmpeg with `args` (`OUT` stands for the output file) and returns what it wrote.
fn ffmpeg(args: &[&str], extension: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("out.{extension}"));
    let out_name = out.to_str().unwrap();
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "OUT" { out_name } else { a })
        .collect();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(&args)
        .status()
        .expect("ffmpeg is needed: run scripts/test.sh (ensure_test_tools) or install it");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(&out).unwrap()
}

/// `seconds` of a 440 Hz tone at `rate` Hz, `channels` channels, into ffmpeg's encoder `codec`.
fn tone(seconds: f64, rate: u32, channels: u32, codec: &[&str], extension: &str) -> Vec<u8> {
    let source = format!("sine=frequency=440:sample_rate={rate}:duration={seconds}");
    // Stereo is the tone on both channels at full level (ffmpeg's own upmix lowers it).
    let channels = if channels == 2 {
        "pan=stereo|c0=c0|c1=c0"
    } else {
        "pan=mono|c0=c0"
    };
    let mut args = vec!["-f", "lavfi", "-i", &source, "-af", channels];
    args.extend_from_slice(codec);
    args.push("OUT");
    ffmpeg(&args, extension)
}

/// Chrome's shape: Opus in WebM written as a stream (ffmpeg writes to a pipe, so the Segment
/// and Clusters have unknown sizes and there are no Cues), one Cluster a second.
fn webm_opus(seconds: f64) -> Vec<u8> {
    let source = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let output = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            &source,
        ])
        .args([
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-cluster_time_limit",
            "1000",
        ])
        .args(["-f", "webm", "pipe:1"])
        .output()
        .expect("ffmpeg is needed: run scripts/test.sh (ensure_test_tools) or install it");
    assert!(output.status.success());
    output.stdout
}

fn ogg_opus(seconds: f64) -> Vec<u8> {
    tone(
        seconds,
        48_000,
        1,
        &["-c:a", "libopus", "-b:a", "32k"],
        "ogg",
    )
}

/// Safari's codec; ffmpeg's MP4 puts its index (moov) after the audio, like an upload.
fn mp4_aac(seconds: f64) -> Vec<u8> {
    tone(seconds, 44_100, 1, &["-c:a", "aac", "-b:a", "64k"], "m4a")
}

/// A MediaRecorder with a timeslice writes fragments: an empty moov first, then moof + mdat.
fn fragmented_mp4_aac(seconds: f64) -> Vec<u8> {
    let codec = [
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-movflags",
        "frag_keyframe+empty_moov",
        "-frag_duration",
        "1000000",
    ];
    tone(seconds, 44_100, 1, &codec, "mp4")
}

/// The sample count `seconds` give at 16 kHz.
fn samples_in(seconds: f64) -> usize {
    (seconds * f64::from(SAMPLE_RATE)) as usize
}

/// The tone's frequency from the zero crossings of the middle of the samples (away from the
/// codec's start-up and the fade at the end).
fn frequency_of(samples: &[f32]) -> f64 {
    let middle = &samples[samples.len() / 5..samples.len() * 4 / 5];
    let crossings = middle
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f64 / 2.0 / (middle.len() as f64 / f64::from(SAMPLE_RATE))
}

fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len().max(1) as f64)
        .sqrt()
}

/// Waits until the decoder has caught up with what it was given: nothing new for a while
/// (long enough for a busy machine). How many samples it has then.
fn caught_up(decoder: &LiveDecoder) -> usize {
    let mut decoded = decoder.decoded();
    let mut unchanged = 0;
    while unchanged < 15 {
        std::thread::sleep(Duration::from_millis(10));
        let now = decoder.decoded();
        unchanged = if now == decoded { unchanged + 1 } else { 0 };
        decoded = now;
    }
    decoded
}

/// `bytes` pushed to a `LiveDecoder` in pieces of `sizes` (repeated), as a browser sends
/// them; also, when `settle`, how many samples were readable before `finish`.
fn live(
    bytes: &[u8],
    content_type: &str,
    sizes: &[usize],
    settle: bool,
) -> (Result<Vec<f32>, AudioError>, usize) {
    let decoder = LiveDecoder::start(content_type, LIMITS);
    let bytes = Bytes::copy_from_slice(bytes);
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        decoder.push(bytes.slice(at..end));
        at = end;
    }
    let mut before_finish = 0;
    if settle {
        // The input has not ended: what was decoded came from the bytes so far.
        before_finish = caught_up(&decoder);
        assert_eq!(decoder.samples_from(0).len(), before_finish);
    }
    (decoder.finish(), before_finish)
}

fn assert_same_samples(live: &[f32], whole: &[f32]) {
    assert_eq!(live.len(), whole.len());
    let worst = live
        .iter()
        .zip(whole)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-4, "live and whole differ by {worst}");
}

#[test]
fn each_container_gives_16_khz_mono_of_the_right_length_and_pitch() {
    let cases: Vec<(&str, Vec<u8>, &str, usize)> = vec![
        ("webm/opus", webm_opus(3.0), "video/webm", OPUS_PACKET),
        ("ogg/opus", ogg_opus(3.0), "audio/ogg", OPUS_PACKET),
        ("mp4/aac", mp4_aac(3.0), "audio/mp4", AAC_PACKETS),
        (
            "fragmented mp4/aac",
            fragmented_mp4_aac(3.0),
            "video/mp4",
            AAC_PACKETS,
        ),
        (
            "wav 44.1 kHz stereo",
            tone(3.0, 44_100, 2, &["-c:a", "pcm_s16le"], "wav"),
            "audio/wav",
            1,
        ),
        (
            "wav 8 kHz mono",
            tone(3.0, 8_000, 1, &["-c:a", "pcm_s16le"], "wav"),
            "audio/wav",
            1,
        ),
        (
            "wav 96 kHz float",
            tone(3.0, 96_000, 1, &["-c:a", "pcm_f32le"], "wav"),
            "audio/wav",
            1,
        ),
    ];
    for (name, bytes, content_type, packet) in cases {
        let samples =
            decode_pcm(&bytes, content_type, LIMITS).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = samples_in(3.0);
        assert!(
            samples.len().abs_diff(expected) <= packet,
            "{name}: {} samples, expected {expected}",
            samples.len()
        );
        let frequency = frequency_of(&samples);
        assert!(
            (frequency - 440.0).abs() < 2.0,
            "{name}: the tone is at {frequency} Hz"
        );
        // ffmpeg's sine is at 1/8 of full scale: its level survives decoding and mixing down.
        let level = rms(&samples[samples.len() / 5..samples.len() * 4 / 5]);
        assert!(
            (level - 0.125 / 2f64.sqrt()).abs() < 0.01,
            "{name}: level {level}"
        );
    }
}

#[test]
fn mediarecorder_parameters_in_the_content_type_are_accepted() {
    let webm = webm_opus(1.0);
    let with_codec = decode_pcm(&webm, "audio/webm;codecs=opus", LIMITS).unwrap();
    assert_eq!(with_codec, decode_pcm(&webm, "video/webm", LIMITS).unwrap());
    let ogg = ogg_opus(1.0);
    assert!(decode_pcm(&ogg, "audio/ogg; codecs=opus", LIMITS).is_ok());
    let mp4 = fragmented_mp4_aac(1.0);
    assert!(decode_pcm(&mp4, "audio/mp4;codecs=mp4a.40.2", LIMITS).is_ok());
}

#[test]
fn chunk_by_chunk_gives_what_the_whole_file_gives() {
    let cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![
        ("webm/opus", webm_opus(4.0), "audio/webm;codecs=opus", true),
        ("ogg/opus", ogg_opus(4.0), "audio/ogg", true),
        (
            "fragmented mp4/aac",
            fragmented_mp4_aac(4.0),
            "audio/mp4",
            true,
        ),
        (
            "wav",
            tone(4.0, 48_000, 1, &["-c:a", "pcm_s16le"], "wav"),
            "audio/wav",
            true,
        ),
        // Its index comes after the audio: nothing can be decoded before the end.
        ("mp4/aac, index last", mp4_aac(4.0), "audio/mp4", false),
    ];
    for (name, bytes, content_type, streams) in cases {
        let whole = decode_pcm(&bytes, content_type, LIMITS).unwrap();
        let (chunked, before_finish) = live(&bytes, content_type, &[1000, 333, 4096], true);
        let chunked = chunked.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_same_samples(&chunked, &whole);
        if streams {
            // Everything but the last packets or fragment was heard before the input ended.
            assert!(
                before_finish + samples_in(1.1) >= whole.len(),
                "{name}: {before_finish} of {} before the end",
                whole.len()
            );
        }
    }
}

/// ffmpeg's decoding of `bytes` with libopus (the decoder used here: ffmpeg's own Opus
/// decoder differs from it by a sample), at 16 kHz mono.
fn ffmpeg_decoding(bytes: &[u8], extension: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(format!("in.{extension}"));
    std::fs::write(&input, bytes).unwrap();
    let input = input.to_str().unwrap();
    let raw = ffmpeg(
        &[
            "-c:a", "libopus", "-i", input, "-ar", "16000", "-ac", "1", "-f", "f32le", "OUT",
        ],
        "raw",
    );
    raw.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The best normalised correlation of `ours` with `theirs` shifted by up to `max_lag` samples
/// (ffmpeg applies an MP4's edit list, which moves the start).
fn best_correlation(ours: &[f32], theirs: &[f32], max_lag: i64) -> f64 {
    let mut best: f64 = 0.0;
    for lag in (-max_lag..=max_lag).step_by(1) {
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for (i, x) in ours.iter().enumerate().step_by(4) {
            let Some(y) = usize::try_from(i as i64 + lag)
                .ok()
                .and_then(|j| theirs.get(j))
            else {
                continue;
            };
            let (x, y) = (f64::from(*x), f64::from(*y));
            xy += x * y;
            xx += x * x;
            yy += y * y;
        }
        if xx > 0.0 && yy > 0.0 {
            best = best.max(xy / (xx * yy).sqrt());
        }
    }
    best
}

#[test]
fn chromium_mediarecorder_recordings_decode_whole_and_as_they_arrive() {
    for (name, bytes, chunks, content_type, extension, max_lag) in [
        (
            "webm",
            CHROMIUM_WEBM,
            CHROMIUM_WEBM_CHUNKS,
            "audio/webm;codecs=opus",
            "webm",
            0,
        ),
        (
            "mp4",
            CHROMIUM_MP4,
            CHROMIUM_MP4_CHUNKS,
            "audio/mp4;codecs=opus",
            "mp4",
            1500,
        ),
    ] {
        assert_eq!(chunks.iter().sum::<usize>(), bytes.len());
        let whole = decode_pcm(bytes, content_type, LIMITS).unwrap();
        // Five seconds recorded, less the time MediaRecorder takes to start.
        assert!(
            (samples_in(4.8)..=samples_in(5.1)).contains(&whole.len()),
            "{name}: {} samples",
            whole.len()
        );
        // The speech itself, as ffmpeg hears it, not just some sound of that length.
        let reference = ffmpeg_decoding(bytes, extension);
        let correlation = best_correlation(&whole, &reference, max_lag);
        assert!(correlation > 0.99, "{name}: correlation {correlation}");

        // Chunk by chunk, the way the browser delivered them.
        let decoder = LiveDecoder::start(content_type, LIMITS);
        let mut at = 0;
        let mut heard = Vec::new();
        for size in chunks {
            decoder.push(Bytes::copy_from_slice(&bytes[at..at + size]));
            at += size;
            heard.push(caught_up(&decoder));
        }
        // Each one-second chunk is heard before the next arrives.
        assert!(heard.windows(2).all(|w| w[1] > w[0]), "{name}: {heard:?}");
        assert!(heard[1] >= samples_in(1.0), "{name}: {heard:?}");
        let partial = decoder.samples_from(samples_in(1.0));
        let from = samples_in(1.0);
        assert_eq!(partial[..], whole[from..from + partial.len()]);
        let chunked = decoder.finish().unwrap();
        assert_same_samples(&chunked, &whole);
    }
}

#[test]
fn anything_but_a_browser_recording_is_refused_clearly() {
    // A PDF, random bytes and a video named as a recording.
    let random: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (bytes, content_type) in [
        (PDF, "video/webm"),
        (&random[..], "video/webm"),
        (&random[..], "audio/mp4"),
        (PDF, "audio/wav"),
    ] {
        let refused = decode_pcm(bytes, content_type, LIMITS).unwrap_err();
        assert!(matches!(refused, AudioError::NotAudio(_)), "{refused:?}");
        let (live, _) = live(bytes, content_type, &[700], false);
        assert!(matches!(live, Err(AudioError::NotAudio(_))), "{live:?}");
    }
    let video = decode_pcm(VIDEO, "video/webm", LIMITS).unwrap_err();
    assert_eq!(
        video,
        AudioError::NotAudio("it has a track that is not audio".to_string())
    );
    // Containers and codecs browsers do not record.
    let webm = webm_opus(1.0);
    for content_type in ["application/pdf", "audio/mpeg", "text/plain", ""] {
        assert!(matches!(
            decode_pcm(&webm, content_type, LIMITS),
            Err(AudioError::Unsupported(_))
        ));
        let (live, _) = live(&webm, content_type, &[700], false);
        assert!(matches!(live, Err(AudioError::Unsupported(_))), "{live:?}");
    }
    let vorbis = tone(1.0, 48_000, 1, &["-c:a", "libvorbis"], "webm");
    let refused = decode_pcm(&vorbis, "video/webm", LIMITS).unwrap_err();
    assert!(
        matches!(&refused, AudioError::Unsupported(why) if why.contains("WebM")),
        "{refused:?}"
    );
    assert!(refused.to_string().starts_with("not an accepted recording"));
}

#[test]
fn a_recording_longer_than_the_limit_is_refused_as_too_long() {
    let limits = DecodeLimits {
        max_duration: Duration::from_secs(2),
        ..LIMITS
    };
    for (bytes, content_type) in [
        (webm_opus(3.0), "video/webm"),
        (fragmented_mp4_aac(3.0), "video/mp4"),
        (
            tone(3.0, 8_000, 1, &["-c:a", "pcm_s16le"], "wav"),
            "audio/wav",
        ),
    ] {
        assert_eq!(
            decode_pcm(&bytes, content_type, limits),
            Err(AudioError::TooLong)
        );
        let decoder = LiveDecoder::start(content_type, limits);
        for chunk in bytes.chunks(2000) {
            decoder.push(Bytes::copy_from_slice(chunk));
        }
        // The samples kept stop at the limit (plus at most one packet).
        std::thread::sleep(Duration::from_millis(100));
        assert!(decoder.decoded() <= samples_in(2.0) + 1024);
        assert_eq!(decoder.finish(), Err(AudioError::TooLong));
    }
    // Just under the limit passes.
    let limits = DecodeLimits {
        max_duration: Duration::from_millis(3100),
        ..LIMITS
    };
    assert!(decode_pcm(&webm_opus(3.0), "video/webm", limits).is_ok());
}

#[test]
fn no_time_to_decode_is_too_slow() {
    let limits = DecodeLimits {
        time_limit: Duration::ZERO,
        ..LIMITS
    };
    let webm = webm_opus(1.0);
    assert_eq!(
        decode_pcm(&webm, "video/webm", limits),
        Err(AudioError::TooSlow)
    );
    let decoder = LiveDecoder::start("video/webm", limits);
    decoder.push(Bytes::from(webm));
    assert_eq!(decoder.finish(), Err(AudioError::TooSlow));
}

#[test]
fn cut_off_recordings_do_not_panic_and_keep_what_came() {
    let files = [
        (webm_opus(3.0), "video/webm"),
        (ogg_opus(3.0), "audio/ogg"),
        (mp4_aac(3.0), "audio/mp4"),
        (fragmented_mp4_aac(3.0), "video/mp4"),
        (
            tone(3.0, 44_100, 2, &["-c:a", "pcm_s16le"], "wav"),
            "audio/wav",
        ),
        (CHROMIUM_WEBM.to_vec(), "video/webm"),
        (CHROMIUM_MP4.to_vec(), "video/mp4"),
    ];
    for (bytes, content_type) in &files {
        let full = decode_pcm(bytes, content_type, LIMITS).unwrap();
        for percent in [1, 5, 10, 33, 50, 77, 99] {
            let cut = &bytes[..bytes.len() * percent / 100];
            let (chunked, _) = live(cut, content_type, &[999], false);
            // What a cut file gives is the start of the whole one (but for the last packet's
            // filter tail), or a refusal; read as a stream or from memory alike.
            for decoded in [decode_pcm(cut, content_type, LIMITS), chunked] {
                let Ok(samples) = decoded else { continue };
                let start = samples.len().saturating_sub(1000);
                assert!(
                    samples.len() <= full.len(),
                    "{content_type} cut at {percent}%"
                );
                assert_same_samples(&samples[..start], &full[..start]);
            }
        }
    }
    // Half a streamed WebM still holds about half its sound.
    let webm = webm_opus(4.0);
    let half = decode_pcm(&webm[..webm.len() / 2], "video/webm", LIMITS).unwrap();
    assert!(
        (samples_in(1.5)..=samples_in(2.5)).contains(&half.len()),
        "{}",
        half.len()
    );
}

#[test]
fn a_decoder_dropped_midway_stops_without_waiting_for_the_rest() {
    let webm = webm_opus(3.0);
    let decoder = LiveDecoder::start("video/webm", LIMITS);
    decoder.push(Bytes::copy_from_slice(&webm[..webm.len() / 2]));
    std::thread::sleep(Duration::from_millis(50));
    let started = std::time::Instant::now();
    drop(decoder);
    assert!(started.elapsed() < Duration::from_secs(1));
}
