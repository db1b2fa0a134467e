//! What a voice recording is, read from its container without decoding it (security.md 22):
//! that it holds audio and no video, and how long it lasts. Demuxing is bounded in time and
//! by the recording's size, which the caller has already limited.

use std::io::Cursor;
use std::time::{Duration, Instant};
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{Duration as Ticks, TimeBase};

/// The containers browsers record in (Chrome's WebM, Firefox's Ogg, Safari's MP4) and WAV,
/// by the content type `file_types::detect` gives them.
pub const VOICE_TYPES: &[&str] = &[
    "video/webm",
    "audio/ogg",
    "video/mp4",
    "audio/mp4",
    "audio/wav",
];

/// The largest recording read: far more than five minutes of any browser's audio (WAV at
/// 48 kHz stereo is 11 MiB a minute).
pub const MAX_VOICE_BYTES: u64 = 64 * 1024 * 1024;

/// How long reading a container's packets may take.
pub const DEMUX_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Why a file is not a voice recording.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AudioError {
    #[error("not a container of audio: {0}")]
    NotAudio(String),
    #[error("reading the container took too long")]
    TooSlow,
}

/// How long an audio-only recording lasts: the longest of what its header says, where its
/// last packet ends and what its packets add up to (MediaRecorder's WebM has no duration in
/// its header, and a header could understate it). Blocking: run it on the blocking pool.
pub fn duration_of(
    bytes: Vec<u8>,
    content_type: &str,
    time_limit: Duration,
) -> Result<Duration, AudioError> {
    let started = Instant::now();
    let not_audio = |why: &str| AudioError::NotAudio(why.to_string());
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    hint.mime_type(content_type);
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| AudioError::NotAudio(e.to_string()))?;
    // Every track must be audio: a video's, or one the demuxer cannot name, is refused.
    let only_audio = format
        .tracks()
        .iter()
        .all(|t| t.codec_params.as_ref().is_some_and(|p| p.audio().is_some()));
    if !only_audio {
        return Err(not_audio("it has a track that is not audio"));
    }
    let track = format
        .default_track(TrackType::Audio)
        .or_else(|| format.first_track(TrackType::Audio))
        .ok_or_else(|| not_audio("no audio track"))?;
    let track_id = track.id;
    let time_base = track
        .time_base
        .or_else(|| {
            let rate = track.codec_params.as_ref()?.audio()?.sample_rate?;
            TimeBase::try_from_recip(rate)
        })
        .ok_or_else(|| not_audio("no time base"))?;
    let start = track.start_ts.get();
    let stated = track.duration.map(Ticks::get).unwrap_or(0);
    let mut summed: u64 = 0;
    let mut end: i64 = start;
    let mut packets: u64 = 0;
    loop {
        if started.elapsed() > time_limit {
            return Err(AudioError::TooSlow);
        }
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A chained Ogg stream or a cut-off file: what was read so far counts.
            Err(symphonia::core::errors::Error::ResetRequired) => break,
            Err(symphonia::core::errors::Error::IoError(_)) if packets > 0 => break,
            Err(e) => return Err(AudioError::NotAudio(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        summed = summed.saturating_add(packet.dur.get());
        let packet_end = packet
            .pts
            .get()
            .saturating_add(i64::try_from(packet.dur.get()).unwrap_or(i64::MAX));
        end = end.max(packet_end);
    }
    if packets == 0 {
        return Err(not_audio("no audio packets"));
    }
    let spanned = u64::try_from(end.saturating_sub(start)).unwrap_or(0);
    let ticks = stated.max(spanned).max(summed);
    let millis = time_base
        .calc_duration(Ticks::new(ticks))
        .map(|t| t.as_millis())
        .unwrap_or(i128::MAX);
    Ok(Duration::from_millis(
        u64::try_from(millis).unwrap_or(u64::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OGG: &[u8] = include_bytes!("../../../server/tests/fixtures/voice.ogg");

    #[test]
    fn reading_the_packets_is_bounded_in_time() {
        let limit = Duration::from_secs(5);
        let two_seconds = duration_of(OGG.to_vec(), "audio/ogg", limit).unwrap();
        assert!(
            (1900..=2100).contains(&two_seconds.as_millis()),
            "{two_seconds:?}"
        );
        assert_eq!(
            duration_of(OGG.to_vec(), "audio/ogg", Duration::ZERO),
            Err(AudioError::TooSlow)
        );
    }

    #[test]
    fn garbage_in_an_audio_container_is_not_audio() {
        assert!(matches!(
            duration_of(b"OggS not really".to_vec(), "audio/ogg", DEMUX_TIME_LIMIT),
            Err(AudioError::NotAudio(_))
        ));
    }
}

// replaced on merge: a minimal WAV-only decoder (16-bit PCM), for the built-in engine.
/// Bounds on decoding a whole recording.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_duration: std::time::Duration,
    pub time_limit: std::time::Duration,
}

/// A whole recording → 16 kHz mono f32 samples. Blocking. // replaced on merge
pub fn decode_pcm(
    bytes: &[u8],
    content_type: &str,
    limits: DecodeLimits,
) -> Result<Vec<f32>, AudioError> {
    let not_audio = |why: &str| AudioError::NotAudio(why.to_string());
    if content_type.split(';').next().map(str::trim) != Some("audio/wav")
        || bytes.len() < 12
        || &bytes[..4] != b"RIFF"
        || &bytes[8..12] != b"WAVE"
    {
        return Err(not_audio("only WAV is decoded here"));
    }
    let (mut at, mut format, mut data) = (12usize, None, None);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = &bytes[at + 8..(at + 8).saturating_add(size).min(bytes.len())];
        match id {
            b"fmt " if body.len() >= 16 => {
                let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                format = Some((u16_at(0), u16_at(2), rate, u16_at(14)));
            }
            b"data" => data = Some(body),
            _ => {}
        }
        at = at
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size & 1);
    }
    let (Some((1, channels @ 1..=8, rate @ 8000..=192_000, 16)), Some(data)) = (format, data)
    else {
        return Err(not_audio("not 16-bit PCM WAV"));
    };
    let channels = usize::from(channels);
    let frames = data.len() / 2 / channels;
    if frames as f64 / f64::from(rate) > limits.max_duration.as_secs_f64() {
        return Err(not_audio("longer than allowed"));
    }
    let mono: Vec<f32> = data
        .chunks_exact(2 * channels)
        .map(|frame| {
            frame
                .chunks_exact(2)
                .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
                .sum::<f32>()
                / channels as f32
        })
        .collect();
    if rate == 16_000 {
        return Ok(mono);
    }
    // Linear interpolation: enough for speech in this stand-in.
    let ratio = f64::from(rate) / 16_000.0;
    let out_len = (mono.len() as f64 / ratio) as usize;
    Ok((0..out_len)
        .map(|i| {
            let x = i as f64 * ratio;
            let j = x as usize;
            let frac = (x - j as f64) as f32;
            let a = mono[j.min(mono.len() - 1)];
            let b = mono[(j + 1).min(mono.len() - 1)];
            a + (b - a) * frac
        })
        .collect())
}
