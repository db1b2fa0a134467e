//! Voice recordings. What one is, read from its container without decoding it (security.md
//! 22): that it holds audio and no video, and how long it lasts. And its sound as the speech
//! engine hears it: decoded to 16 kHz mono, from a whole file (`decode_pcm`) or from a
//! browser's chunks while they arrive (`LiveDecoder`). Only what browsers record is decoded:
//! Opus in WebM or Ogg, AAC (or Opus) in MP4, and PCM in WAV. Demuxing and decoding are
//! bounded in time, in duration (so in memory) and by the recording's size.

mod resample;

use bytes::Bytes;
use resample::Resampler;
use std::collections::VecDeque;
use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};
use symphonia::core::codecs::audio::well_known::{CODEC_ID_AAC, CODEC_ID_OPUS};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{Duration as Ticks, TimeBase};
use symphonia::default::codecs::{AacDecoder, PcmDecoder};
use symphonia::default::formats::{IsoMp4Reader, MkvReader, OggReader, WavReader};
use symphonia_adapter_libopus::OpusDecoder;

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

/// Why a file is not a voice recording, or cannot be heard.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AudioError {
    #[error("not a container of audio: {0}")]
    NotAudio(String),
    #[error("reading the container took too long")]
    TooSlow,
    /// A content type, container or codec that browsers do not record in.
    #[error("not an accepted recording: {0}")]
    Unsupported(String),
    #[error("the recording is larger than {MAX_VOICE_BYTES} bytes")]
    TooLarge,
    #[error("the recording is longer than allowed")]
    TooLong,
    #[error("the recording cannot be decoded: {0}")]
    Undecodable(String),
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

// ---------------------------------------------------------------------------------------------
// The sound of a recording as the speech engine hears it: 16 kHz mono samples.

/// The rate the speech engine listens at.
pub const SAMPLE_RATE: u32 = 16_000;

/// How much decoding one recording may cost.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Longer recordings are refused (`TooLong`): this also bounds the samples kept.
    pub max_duration: Duration,
    /// Time spent decoding (not waiting for a live recording's next bytes); `TooSlow` beyond.
    pub time_limit: Duration,
}

impl DecodeLimits {
    fn max_samples(&self) -> u64 {
        let samples = (self.max_duration.as_secs_f64() * f64::from(SAMPLE_RATE)).ceil();
        if samples.is_finite() && samples < u64::MAX as f64 {
            samples as u64
        } else {
            u64::MAX
        }
    }
}

/// The sample rates decoded: any a microphone or a WAV file has (a filter for a rate far off
/// would be huge).
const SOURCE_RATES: std::ops::RangeInclusive<u32> = 4_000..=192_000;

/// Packets in a row that may fail to decode before the recording counts as undecodable (a
/// damaged packet in a long recording is skipped, a stream of garbage is not).
const MAX_BAD_PACKETS: u32 = 16;

/// The containers accepted for decoding, each with the codecs browsers put in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    WebM,
    Ogg,
    Mp4,
    Wav,
}

impl Container {
    /// By content type: `file_types::detect`'s names and MediaRecorder's (parameters such as
    /// `;codecs=opus` are ignored: the codec is checked in the stream itself).
    fn of(content_type: &str) -> Result<Container, AudioError> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "video/webm" | "audio/webm" => Ok(Container::WebM),
            "audio/ogg" | "application/ogg" => Ok(Container::Ogg),
            "video/mp4" | "audio/mp4" | "audio/x-m4a" => Ok(Container::Mp4),
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Ok(Container::Wav),
            _ => Err(AudioError::Unsupported(format!(
                "{essence:?} is not WebM, Ogg, MP4 or WAV"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Container::WebM => "WebM",
            Container::Ogg => "Ogg",
            Container::Mp4 => "MP4",
            Container::Wav => "WAV",
        }
    }

    /// The container's signature in its first bytes: the demuxers are not given anything else
    /// (they would scan junk, or wait on a live stream, for a header that never comes).
    fn starts(self, head: &[u8]) -> bool {
        match self {
            Container::WebM => head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]),
            Container::Ogg => head.starts_with(b"OggS"),
            Container::Mp4 => head.get(4..8) == Some(b"ftyp"),
            Container::Wav => head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WAVE"),
        }
    }

    /// Opus in WebM and Ogg (Chrome, Firefox), AAC in MP4 (Safari; Chrome's MP4 may hold
    /// Opus), PCM in WAV.
    fn carries(self, codec: AudioCodecId) -> bool {
        match self {
            Container::WebM | Container::Ogg => codec == CODEC_ID_OPUS,
            Container::Mp4 => codec == CODEC_ID_AAC || codec == CODEC_ID_OPUS,
            Container::Wav => codec != CODEC_ID_AAC && codec != CODEC_ID_OPUS,
        }
    }

    fn reader<'s>(
        self,
        source: MediaSourceStream<'s>,
    ) -> symphonia::core::errors::Result<Box<dyn FormatReader + 's>> {
        let options = FormatOptions::default();
        Ok(match self {
            Container::WebM => Box::new(MkvReader::try_new(source, options)?),
            Container::Ogg => Box::new(OggReader::try_new(source, options)?),
            Container::Mp4 => Box::new(IsoMp4Reader::try_new(source, options)?),
            Container::Wav => Box::new(WavReader::try_new(source, options)?),
        })
    }
}

/// The decoders of the accepted codecs only: symphonia has no Opus decoder of its own, so
/// libopus comes in through its adapter.
static DECODERS: LazyLock<CodecRegistry> = LazyLock::new(|| {
    let mut registry = CodecRegistry::new();
    registry.register_audio_decoder::<OpusDecoder>();
    registry.register_audio_decoder::<AacDecoder>();
    registry.register_audio_decoder::<PcmDecoder>();
    registry
});

/// A recording's one audio track, opened for decoding.
struct Track<'s> {
    format: Box<dyn FormatReader + 's>,
    decoder: Box<dyn AudioDecoder>,
    id: u32,
}

impl<'s> Track<'s> {
    /// Demuxes the headers: the container must be the one named, hold audio only, and its
    /// codec one that container carries from a browser.
    fn open(container: Container, source: MediaSourceStream<'s>) -> Result<Track<'s>, AudioError> {
        let format = container.reader(source).map_err(|e| {
            AudioError::NotAudio(format!("not a readable {} file: {e}", container.name()))
        })?;
        let only_audio = format
            .tracks()
            .iter()
            .all(|t| t.codec_params.as_ref().is_some_and(|p| p.audio().is_some()));
        if !only_audio {
            return Err(AudioError::NotAudio(
                "it has a track that is not audio".to_string(),
            ));
        }
        let track = format
            .default_track(TrackType::Audio)
            .or_else(|| format.first_track(TrackType::Audio))
            .ok_or_else(|| AudioError::NotAudio("no audio track".to_string()))?;
        let mut params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .cloned()
            .ok_or_else(|| AudioError::NotAudio("no audio track".to_string()))?;
        if !container.carries(params.codec) {
            return Err(AudioError::Unsupported(format!(
                "{} with codec {} is not a browser's recording",
                container.name(),
                params.codec
            )));
        }
        // Opus always decodes at one of its own rates; a container may state the input's.
        if params.codec == CODEC_ID_OPUS
            && !matches!(
                params.sample_rate,
                Some(8_000 | 12_000 | 16_000 | 24_000 | 48_000)
            )
        {
            params.with_sample_rate(48_000);
        }
        let id = track.id;
        let decoder = DECODERS
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| AudioError::Unsupported(format!("its audio cannot be decoded: {e}")))?;
        Ok(Track {
            format,
            decoder,
            id,
        })
    }

    /// Decodes every packet, hands the 16 kHz mono samples to `sink` as they come. `busy`
    /// is the time spent so far; `stop` asks to stop early (the result is then irrelevant).
    fn decode(
        mut self,
        limits: DecodeLimits,
        busy: &dyn Fn() -> Duration,
        stop: &dyn Fn() -> bool,
        sink: &mut dyn FnMut(&[f32]),
    ) -> Result<(), AudioError> {
        let max_samples = limits.max_samples();
        let mut produced: u64 = 0;
        let mut packets: u64 = 0;
        let mut bad_in_a_row: u32 = 0;
        let mut resampler: Option<(u32, Resampler)> = None;
        let mut interleaved: Vec<f32> = Vec::new();
        let mut mono: Vec<f32> = Vec::new();
        let mut out: Vec<f32> = Vec::new();
        let mut emit = |out: &mut Vec<f32>, produced: &mut u64| {
            *produced += out.len() as u64;
            if *produced > max_samples {
                return Err(AudioError::TooLong);
            }
            if !out.is_empty() {
                sink(out);
            }
            out.clear();
            Ok(())
        };
        loop {
            if stop() {
                return Ok(());
            }
            if busy() >= limits.time_limit {
                return Err(AudioError::TooSlow);
            }
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                // A chained Ogg stream, or a cut-off or damaged tail: what came so far counts.
                Err(SymphoniaError::ResetRequired) => break,
                Err(SymphoniaError::IoError(_) | SymphoniaError::DecodeError(_)) if packets > 0 => {
                    break
                }
                Err(e) => return Err(AudioError::Undecodable(e.to_string())),
            };
            if packet.track_id != self.id {
                continue;
            }
            let buffer = match self.decoder.decode(&packet) {
                Ok(buffer) => buffer,
                Err(SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))
                    if bad_in_a_row < MAX_BAD_PACKETS =>
                {
                    bad_in_a_row += 1;
                    continue;
                }
                Err(e) => return Err(AudioError::Undecodable(e.to_string())),
            };
            bad_in_a_row = 0;
            packets += 1;
            let rate = buffer.spec().rate();
            let channels = buffer.spec().channels().count().max(1);
            buffer.copy_to_vec_interleaved(&mut interleaved);
            mono.clear();
            if channels == 1 {
                mono.extend_from_slice(&interleaved);
            } else {
                let scale = 1.0 / channels as f32;
                mono.extend(
                    interleaved
                        .chunks_exact(channels)
                        .map(|frame| frame.iter().sum::<f32>() * scale),
                );
            }
            match &mut resampler {
                Some((from, resampler)) if *from == rate => resampler.push(&mono, &mut out),
                Some(_) => {
                    return Err(AudioError::Undecodable(
                        "its sample rate changes midway".to_string(),
                    ))
                }
                None if !SOURCE_RATES.contains(&rate) => {
                    return Err(AudioError::Unsupported(format!(
                        "a sample rate of {rate} Hz"
                    )))
                }
                None => {
                    let mut fresh = Resampler::new(rate, SAMPLE_RATE);
                    fresh.push(&mono, &mut out);
                    resampler = Some((rate, fresh));
                }
            }
            emit(&mut out, &mut produced)?;
        }
        if packets == 0 {
            return Err(AudioError::Undecodable("no audio in it".to_string()));
        }
        if let Some((_, resampler)) = &mut resampler {
            resampler.finish(&mut out);
        }
        emit(&mut out, &mut produced)
    }
}

/// Runs `work`, turning a panic inside a demuxer or decoder (hostile input) into an error.
fn guarded<T>(work: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
        Err(AudioError::Undecodable(
            "the decoder failed on it".to_string(),
        ))
    })
}

/// A whole recording as 16 kHz mono samples (channels mixed down, resampled with a
/// low-pass). Blocking: run it on the blocking pool.
pub fn decode_pcm(
    bytes: &[u8],
    content_type: &str,
    limits: DecodeLimits,
) -> Result<Vec<f32>, AudioError> {
    let started = Instant::now();
    let container = Container::of(content_type)?;
    if bytes.len() as u64 > MAX_VOICE_BYTES {
        return Err(AudioError::TooLarge);
    }
    if !container.starts(bytes) {
        return Err(AudioError::NotAudio(format!(
            "it does not start as a {} file",
            container.name()
        )));
    }
    guarded(|| {
        let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        let track = Track::open(container, source)?;
        let mut samples = Vec::new();
        track.decode(limits, &|| started.elapsed(), &|| false, &mut |more| {
            samples.extend_from_slice(more)
        })?;
        Ok(samples)
    })
}

// ---------------------------------------------------------------------------------------------
// A recording that is still arriving.

/// What the caller and the decoding thread share.
struct Live {
    input: Mutex<LiveInput>,
    /// Signalled when bytes arrive, the input ends or the decoder is dropped.
    arrived: Condvar,
    /// The samples decoded so far (at most `max_duration` of them).
    samples: Mutex<Vec<f32>>,
    decoded: AtomicUsize,
    /// Time the decoding thread spent waiting for bytes (nanoseconds): not decoding time.
    waited_nanos: AtomicU64,
}

#[derive(Default)]
struct LiveInput {
    /// Pushed and not yet read by the demuxer.
    pending: VecDeque<Bytes>,
    /// Every chunk since the start, while the container might need to be read whole (an MP4
    /// whose index comes last): `Bytes` share their memory, so this copies nothing.
    kept: Option<Vec<Bytes>>,
    pushed_bytes: u64,
    /// `finish` was called: the end of `pending` is the end of the recording.
    ended: bool,
    /// The `LiveDecoder` was dropped, or the decoder stopped: nothing more is wanted.
    stopped: bool,
    too_large: bool,
}

/// The live recording as a byte stream: a read waits until bytes arrive, and the stream
/// ends only when the input does (or reading is stopped, an error).
struct LiveStream {
    live: Arc<Live>,
    current: Bytes,
}

impl Read for LiveStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            let mut input = self.live.input.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if input.stopped {
                    return Err(io::Error::other("decoding was stopped"));
                }
                if let Some(chunk) = input.pending.pop_front() {
                    self.current = chunk;
                    break;
                }
                if input.ended {
                    return Ok(0);
                }
                let waiting = Instant::now();
                input = self
                    .live
                    .arrived
                    .wait(input)
                    .unwrap_or_else(|e| e.into_inner());
                let waited = u64::try_from(waiting.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.live.waited_nanos.fetch_add(waited, Ordering::Relaxed);
            }
        }
        let count = buf.len().min(self.current.len());
        buf[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

/// A recording that is still arriving (a browser's MediaRecorder chunks, in order): bytes are
/// pushed as they come and the 16 kHz samples decoded so far can be read at any time. Its
/// decoding runs on its own thread, bounded by the limits; `finish` ends the input and waits
/// for the rest. Dropping it without `finish` stops the thread.
pub struct LiveDecoder {
    live: Arc<Live>,
    thread: Option<std::thread::JoinHandle<Result<(), AudioError>>>,
}

impl LiveDecoder {
    pub fn start(content_type: &str, limits: DecodeLimits) -> LiveDecoder {
        let container = Container::of(content_type);
        let live = Arc::new(Live {
            input: Mutex::new(LiveInput {
                kept: (container == Ok(Container::Mp4)).then(Vec::new),
                ..LiveInput::default()
            }),
            arrived: Condvar::new(),
            samples: Mutex::new(Vec::new()),
            decoded: AtomicUsize::new(0),
            waited_nanos: AtomicU64::new(0),
        });
        let shared = live.clone();
        let thread = std::thread::Builder::new()
            .name("voice-decoder".to_string())
            .spawn(move || {
                let outcome =
                    container.and_then(|container| decode_live(&shared, container, limits));
                // Whatever the outcome, later pushes are dropped, not kept.
                let mut input = shared.input.lock().unwrap_or_else(|e| e.into_inner());
                input.stopped = true;
                input.pending.clear();
                input.kept = None;
                outcome
            });
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(e) => {
                tracing::error!(error = %e, "no thread for a voice decoder");
                live.input.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
                None
            }
        };
        LiveDecoder { live, thread }
    }

    /// The next bytes of the recording.
    pub fn push(&self, chunk: bytes::Bytes) {
        let mut input = self.live.input.lock().unwrap_or_else(|e| e.into_inner());
        if input.stopped || input.ended || chunk.is_empty() {
            return;
        }
        input.pushed_bytes += chunk.len() as u64;
        if input.pushed_bytes > MAX_VOICE_BYTES {
            input.too_large = true;
            input.stopped = true;
        } else {
            if let Some(kept) = &mut input.kept {
                kept.push(chunk.clone());
            }
            input.pending.push_back(chunk);
        }
        drop(input);
        self.live.arrived.notify_all();
    }

    /// How many samples are decoded so far.
    pub fn decoded(&self) -> usize {
        self.live.decoded.load(Ordering::Acquire)
    }

    /// A copy of the samples decoded so far from `from` on (empty when `from` is past them).
    pub fn samples_from(&self, from: usize) -> Vec<f32> {
        let samples = self.live.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.get(from..).map(<[f32]>::to_vec).unwrap_or_default()
    }

    /// Ends the input and waits (blocking) for the decoder: all the samples, or why not.
    pub fn finish(mut self) -> Result<Vec<f32>, AudioError> {
        {
            let mut input = self.live.input.lock().unwrap_or_else(|e| e.into_inner());
            input.ended = true;
        }
        self.live.arrived.notify_all();
        let outcome = match self.thread.take().map(|thread| thread.join()) {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) => Err(AudioError::Undecodable(
                "the decoder failed on it".to_string(),
            )),
            None => Err(AudioError::Undecodable(
                "no decoder could start".to_string(),
            )),
        };
        if self
            .live
            .input
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .too_large
        {
            return Err(AudioError::TooLarge);
        }
        outcome?;
        let mut samples = self.live.samples.lock().unwrap_or_else(|e| e.into_inner());
        Ok(std::mem::take(&mut *samples))
    }
}

impl Drop for LiveDecoder {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.live
                .input
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stopped = true;
            self.live.arrived.notify_all();
            // It stops at its next read or packet: a moment's wait, and no thread outlives it.
            let _ = thread.join();
        }
    }
}

/// The decoding thread's work: the container read as its bytes arrive; an MP4 that cannot be
/// read as a stream (its index after the audio) is decoded whole once the input ends.
fn decode_live(
    live: &Arc<Live>,
    container: Container,
    limits: DecodeLimits,
) -> Result<(), AudioError> {
    let started = Instant::now();
    let busy = || {
        started.elapsed().saturating_sub(Duration::from_nanos(
            live.waited_nanos.load(Ordering::Relaxed),
        ))
    };
    let stop = || live.input.lock().unwrap_or_else(|e| e.into_inner()).stopped;
    let mut sink = |more: &[f32]| {
        let mut samples = live.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.extend_from_slice(more);
        live.decoded.store(samples.len(), Ordering::Release);
    };
    let mut stream = LiveStream {
        live: live.clone(),
        current: Bytes::new(),
    };
    // The signature first, read before any demuxer sees the stream.
    let mut head = Vec::with_capacity(12);
    while head.len() < 12 {
        let mut byte_run = [0u8; 12];
        let wanted = 12 - head.len();
        match stream.read(&mut byte_run[..wanted]) {
            Ok(0) => break,
            Ok(count) => head.extend_from_slice(&byte_run[..count]),
            Err(_) => return Ok(()),
        }
    }
    if !container.starts(&head) {
        return Err(AudioError::NotAudio(format!(
            "it does not start as a {} file",
            container.name()
        )));
    }
    let opened = guarded(|| {
        let source = ReadOnlySource::new(io::Cursor::new(head).chain(stream));
        let source = MediaSourceStream::new(Box::new(source), Default::default());
        Track::open(container, source)
    });
    let whole = {
        let mut input = live.input.lock().unwrap_or_else(|e| e.into_inner());
        if input.stopped {
            return Ok(());
        }
        match &opened {
            Err(AudioError::NotAudio(_)) if input.kept.is_some() => true,
            _ => {
                input.kept = None;
                false
            }
        }
    };
    if !whole {
        return guarded(|| opened?.decode(limits, &busy, &stop, &mut sink));
    }
    // Wait for the end of the input, then read it from memory, where it can seek.
    let kept = {
        let mut input = live.input.lock().unwrap_or_else(|e| e.into_inner());
        while !input.ended && !input.stopped {
            let waiting = Instant::now();
            input = live.arrived.wait(input).unwrap_or_else(|e| e.into_inner());
            let waited = u64::try_from(waiting.elapsed().as_nanos()).unwrap_or(u64::MAX);
            live.waited_nanos.fetch_add(waited, Ordering::Relaxed);
        }
        if input.stopped {
            return Ok(());
        }
        input.kept.take().unwrap_or_default()
    };
    let bytes: Vec<u8> = kept
        .iter()
        .flat_map(|chunk| chunk.iter().copied())
        .collect();
    drop(kept);
    guarded(|| {
        let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        Track::open(container, source)?.decode(limits, &busy, &stop, &mut sink)
    })
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

    const CHROMIUM_WEBM: &[u8] =
        include_bytes!("../../../server/tests/fixtures/chromium-mediarecorder.webm");

    const LIMITS: DecodeLimits = DecodeLimits {
        max_duration: Duration::from_secs(60),
        time_limit: Duration::from_secs(30),
    };

    #[test]
    fn a_dropped_live_decoder_leaves_no_thread_behind() {
        for cut in [0, 100, CHROMIUM_WEBM.len() / 2] {
            let decoder = LiveDecoder::start("video/webm", LIMITS);
            if cut > 0 {
                decoder.push(Bytes::from_static(&CHROMIUM_WEBM[..cut]));
            }
            std::thread::sleep(Duration::from_millis(20));
            let live = decoder.live.clone();
            drop(decoder);
            // The thread and its byte stream held the other references.
            assert_eq!(Arc::strong_count(&live), 1, "cut at {cut}");
        }
    }

    #[test]
    fn pushes_after_the_decoder_stopped_are_not_kept() {
        let decoder = LiveDecoder::start("video/webm", LIMITS);
        decoder.push(Bytes::from_static(b"not a webm file at all"));
        std::thread::sleep(Duration::from_millis(50));
        decoder.push(Bytes::from_static(CHROMIUM_WEBM));
        assert!(decoder.live.input.lock().unwrap().pending.is_empty());
        assert!(matches!(decoder.finish(), Err(AudioError::NotAudio(_))));
    }

    #[test]
    fn more_bytes_than_a_recording_may_have_are_refused() {
        let decoder = LiveDecoder::start("video/webm", LIMITS);
        decoder.push(Bytes::from_static(CHROMIUM_WEBM));
        decoder.push(Bytes::from(vec![0u8; MAX_VOICE_BYTES as usize]));
        assert_eq!(decoder.finish(), Err(AudioError::TooLarge));
    }

    #[test]
    fn content_types_name_the_container() {
        for (content_type, container) in [
            ("video/webm", Container::WebM),
            ("audio/webm;codecs=opus", Container::WebM),
            ("Audio/Ogg; codecs=opus", Container::Ogg),
            ("audio/mp4", Container::Mp4),
            ("video/mp4", Container::Mp4),
            ("audio/wav", Container::Wav),
        ] {
            assert_eq!(Container::of(content_type), Ok(container));
        }
        for content_type in VOICE_TYPES {
            assert!(Container::of(content_type).is_ok());
        }
        assert!(matches!(
            Container::of("audio/mpeg"),
            Err(AudioError::Unsupported(_))
        ));
    }

    /// A second of silence as 16-bit mono WAV at `rate` Hz.
    fn silent_wav(rate: u32) -> Vec<u8> {
        let frames = rate.min(50_000);
        let mut bytes = b"RIFF".to_vec();
        bytes.extend_from_slice(&(36 + frames * 2).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&rate.to_le_bytes());
        bytes.extend_from_slice(&(rate.saturating_mul(2)).to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&(frames * 2).to_le_bytes());
        bytes.resize(bytes.len() + frames as usize * 2, 0);
        bytes
    }

    #[test]
    fn sample_rates_no_microphone_has_are_refused() {
        for rate in [1, 1_000, 400_000, 4_000_000] {
            assert!(
                matches!(
                    decode_pcm(&silent_wav(rate), "audio/wav", LIMITS),
                    Err(AudioError::Unsupported(_))
                ),
                "{rate} Hz"
            );
        }
        let decoded = decode_pcm(&silent_wav(22_050), "audio/wav", LIMITS).unwrap();
        assert_eq!(decoded.len(), 16_000);
    }

    #[test]
    fn garbage_in_an_audio_container_is_not_audio() {
        assert!(matches!(
            duration_of(b"OggS not really".to_vec(), "audio/ogg", DEMUX_TIME_LIMIT),
            Err(AudioError::NotAudio(_))
        ));
    }
}
