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
    #[error("longer than allowed")]
    TooLong,
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

// replaced on merge: the decoding branch brings these.
pub const SAMPLE_RATE: u32 = 16_000;
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_duration: Duration,
    pub time_limit: Duration,
}
pub struct LiveDecoder;
impl LiveDecoder {
    pub fn start(_content_type: &str, _limits: DecodeLimits) -> LiveDecoder {
        LiveDecoder
    }
    pub fn push(&self, _chunk: bytes::Bytes) {}
    pub fn decoded(&self) -> usize {
        0
    }
    pub fn samples_from(&self, _from: usize) -> Vec<f32> {
        Vec::new()
    }
    pub fn finish(self) -> Result<Vec<f32>, AudioError> {
        Err(AudioError::TooSlow)
    }
}
