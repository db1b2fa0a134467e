//! Sample-rate conversion to the speech engine's rate: a windowed-sinc (Kaiser) polyphase
//! filter. Speech recognition hears what it is given: a naive decimation folds everything
//! above 8 kHz back into the speech band, so the filter cuts there first.

use std::f64::consts::PI;

/// Zero crossings of the sinc on each side of a tap's centre: with the Kaiser window below,
/// the transition band is about 0.95 kHz wide at 16 kHz, stopband from ~8 kHz on.
const ZERO_CROSSINGS: f64 = 40.0;
/// Kaiser window shape for ~80 dB of stopband attenuation.
const KAISER_BETA: f64 = 7.857;
/// The cutoff as a fraction of the lower of the two rates.
const CUTOFF: f64 = 0.47;
/// The most filter phases kept: rates whose ratio needs more (odd rates such as 44 101 Hz)
/// use the nearest of these, a timing error under 1/2048 of an input sample.
const MAX_PHASES: u64 = 1024;

/// A streaming converter from `from` Hz to `to` Hz, mono. Input samples before the first and
/// after the last count as silence, so output n is centred on input time n * from / to and the
/// output has `ceil(input * to / from)` samples.
pub struct Resampler {
    /// Output n is at input time n * step / up (the rates' ratio in lowest terms).
    step: u64,
    up: u64,
    /// Phases in the table and taps per phase; a phase's taps are contiguous.
    phases: u64,
    taps: usize,
    table: Vec<f32>,
    /// Input kept from absolute index `base` (negative at first: the leading silence).
    history: Vec<f32>,
    base: i64,
    received: u64,
    next_out: u64,
    passthrough: bool,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Resampler {
        let (from_rate, to_rate) = (u64::from(from.max(1)), u64::from(to.max(1)));
        let divisor = gcd(from_rate, to_rate);
        let (step, up) = (from_rate / divisor, to_rate / divisor);
        if step == up {
            return Resampler {
                step,
                up,
                phases: 1,
                taps: 0,
                table: Vec::new(),
                history: Vec::new(),
                base: 0,
                received: 0,
                next_out: 0,
                passthrough: true,
            };
        }
        // In units of input samples: the cutoff frequency and the window's half width.
        let cutoff = CUTOFF * (from_rate.min(to_rate) as f64) / from_rate as f64;
        let half = (ZERO_CROSSINGS / (2.0 * cutoff)).ceil() as usize;
        let taps = 2 * half;
        let phases = up.min(MAX_PHASES);
        let mut table = Vec::with_capacity(phases as usize * taps);
        for phase in 0..phases {
            let fraction = phase as f64 / phases as f64;
            let start = table.len();
            for tap in 0..taps {
                // Tap `tap` reads input i + 1 - half + tap for an output at time i + fraction.
                let distance = fraction + half as f64 - 1.0 - tap as f64;
                table.push(kernel(distance, cutoff, half as f64) as f32);
            }
            // Each phase passes a constant unchanged (no ripple from phase to phase).
            let sum: f32 = table[start..].iter().sum();
            if sum != 0.0 {
                table[start..].iter_mut().for_each(|c| *c /= sum);
            }
        }
        Resampler {
            step,
            up,
            phases,
            taps,
            table,
            history: vec![0.0; half],
            base: -(half as i64),
            received: 0,
            next_out: 0,
            passthrough: false,
        }
    }

    /// Feeds input; appends the output it completes to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.history.extend_from_slice(input);
        self.received += input.len() as u64;
        self.produce(out, false);
    }

    /// Ends the input: appends the rest of the output, the tail read against silence.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if !self.passthrough {
            self.produce(out, true);
        }
    }

    fn produce(&mut self, out: &mut Vec<f32>, finished: bool) {
        let half = (self.taps / 2) as i64;
        // Outputs centred before the end of the input (the last one's tail may be silence).
        let total = (self.received * self.up).div_ceil(self.step);
        if finished {
            let needed = (total * self.step / self.up) as i64 + half + 2 - self.base;
            if needed > self.history.len() as i64 {
                self.history.resize(needed as usize, 0.0);
            }
        }
        let available = self.base + self.history.len() as i64;
        while self.next_out < total {
            let position = self.next_out * self.step;
            let whole = (position / self.up) as i64;
            let remainder = position % self.up;
            let (whole, phase) = if self.phases == self.up {
                (whole, remainder)
            } else {
                let scaled = (remainder * self.phases + self.up / 2) / self.up;
                if scaled == self.phases {
                    (whole + 1, 0)
                } else {
                    (whole, scaled)
                }
            };
            let last = whole + half;
            if last >= available {
                break;
            }
            let first = (whole + 1 - half - self.base) as usize;
            let input = &self.history[first..first + self.taps];
            let taps = phase as usize * self.taps;
            let coefficients = &self.table[taps..taps + self.taps];
            let sample: f32 = input.iter().zip(coefficients).map(|(x, c)| x * c).sum();
            out.push(sample);
            self.next_out += 1;
        }
        // Drop input no later output reads, in batches to keep the copying cheap.
        let still_needed = ((self.next_out * self.step / self.up) as i64 - half).max(self.base);
        let unneeded = (still_needed - self.base) as usize;
        if unneeded >= 8192 {
            self.history.drain(..unneeded);
            self.base = still_needed;
        }
    }
}

/// The low-pass kernel at `distance` input samples from its centre.
fn kernel(distance: f64, cutoff: f64, half_width: f64) -> f64 {
    let x = distance / half_width;
    if x.abs() >= 1.0 {
        return 0.0;
    }
    let window = bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / bessel_i0(KAISER_BETA);
    let argument = 2.0 * cutoff * distance;
    let sinc = if argument.abs() < 1e-12 {
        1.0
    } else {
        (PI * argument).sin() / (PI * argument)
    };
    2.0 * cutoff * sinc * window
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let quarter = x * x / 4.0;
    for k in 1..64 {
        term *= quarter / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let count = (seconds * f64::from(rate)) as usize;
        (0..count)
            .map(|n| (2.0 * PI * frequency * n as f64 / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    fn resample_all(input: &[f32], from: u32, to: u32, chunk: usize) -> Vec<f32> {
        let mut resampler = Resampler::new(from, to);
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            resampler.push(piece, &mut out);
        }
        resampler.finish(&mut out);
        out
    }

    /// Root-mean-square of the middle of a signal (away from the edges' transients).
    fn middle_rms(samples: &[f32]) -> f64 {
        let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
        (middle.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / middle.len() as f64).sqrt()
    }

    /// The power of `frequency` in `samples` (Goertzel), as an amplitude.
    fn amplitude_at(samples: &[f32], rate: u32, frequency: f64) -> f64 {
        let w = 2.0 * PI * frequency / f64::from(rate);
        let (mut s1, mut s2) = (0.0, 0.0);
        for x in samples {
            let s = f64::from(*x) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        2.0 * power.sqrt() / samples.len() as f64
    }

    #[test]
    fn the_length_follows_the_ratio_of_the_rates() {
        for from in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 44_101] {
            let input = vec![0.1f32; from as usize * 3 + 17];
            let out = resample_all(&input, from, 16_000, 4096);
            let expected = (input.len() as u64 * 16_000).div_ceil(u64::from(from));
            assert_eq!(out.len() as u64, expected, "from {from} Hz");
        }
    }

    #[test]
    fn a_tone_in_the_speech_band_keeps_its_pitch_and_level() {
        for from in [8_000, 44_100, 48_000, 96_000] {
            let out = resample_all(&tone(440.0, from, 2.0), from, 16_000, 1000);
            let middle = &out[out.len() / 4..out.len() * 3 / 4];
            let at_tone = amplitude_at(middle, 16_000, 440.0);
            assert!((0.45..0.55).contains(&at_tone), "{from} Hz: {at_tone}");
            assert!(amplitude_at(middle, 16_000, 880.0) < 0.01, "{from} Hz");
            assert!((middle_rms(&out) - 0.5 / 2f64.sqrt()).abs() < 0.02);
        }
    }

    #[test]
    fn what_lies_above_the_new_nyquist_is_filtered_out_not_folded_in() {
        // 11 kHz at 48 kHz would fold to 5 kHz at 16 kHz without the low-pass.
        let out = resample_all(&tone(11_000.0, 48_000, 1.0), 48_000, 16_000, 777);
        assert!(middle_rms(&out) < 0.5 * 1e-3, "{}", middle_rms(&out));
        // 7 kHz is still speech band: it passes.
        let out = resample_all(&tone(7_000.0, 44_100, 1.0), 44_100, 16_000, 777);
        assert!(middle_rms(&out) > 0.3, "{}", middle_rms(&out));
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let input = tone(300.0, 44_100, 1.3);
        let whole = resample_all(&input, 44_100, 16_000, input.len());
        let pieces = resample_all(&input, 44_100, 16_000, 333);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn the_same_rate_passes_through() {
        let input = tone(300.0, 16_000, 0.5);
        assert_eq!(resample_all(&input, 16_000, 16_000, 100), input);
    }
}
