"""IVR-11: render the prompt catalogue to sound files Asterisk plays as is.

Asterisk's ``wav`` format is 8 kHz, 16-bit signed, mono PCM; a file in that
format needs no transcoding on a G.711 call beyond the law encoding, so the
prompts are rendered straight to it. Open JTalk (pyopenjtalk-plus, the
``[tts]`` extra) speaks Japanese offline at 48 kHz; ``resample`` brings that
down to 8 kHz with a proper anti-aliasing low-pass, because plain decimation
would fold the 4-24 kHz band of the voice back into the telephone band as
hiss and metallic whistles.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import os
import secrets
import wave
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Final

import numpy as np
import numpy.typing as npt

from agi.prompts import TEXTS, Prompt

RATE: Final = 8000
"""Sample rate of Asterisk's ``wav`` format (and of a G.711 call)."""

INSTALL_HINT: Final = "install the [tts] extra: pip install 'chakushin[tts]'"

STOPBAND_DB: Final = 80.0
"""Attenuation of everything at or above the new Nyquist frequency.

80 dB puts aliases below the noise floor of 16-bit audio on a phone line.
"""

PASSBAND: Final = 0.85
"""The filter is flat up to this fraction of the new Nyquist frequency.

At 8 kHz that is 3.4 kHz, the top of the traditional telephone band; the
transition band 3.4-4 kHz is attenuated but never aliased.
"""

PEAK_LIMIT: Final = 0.89 * 32767
"""About -1 dBFS. Open JTalk's output overshoots int16 on some prompts
(``tp-confirm-password`` peaks near 36000); those are scaled down to this
peak instead of being clipped, which would be heard as crackle."""

INT16_MIN: Final = -32768
INT16_MAX: Final = 32767


class TTSUnavailable(RuntimeError):
    """The speech synthesizer (the optional ``[tts]`` extra) is not installed."""


# --- resampling -----------------------------------------------------------------------


def resample(samples: npt.ArrayLike, from_rate: int, to_rate: int) -> npt.NDArray[np.int16]:
    """Downsample mono audio by an integer factor, anti-aliased, to int16.

    ``samples`` may be any real array in int16 range (Open JTalk returns
    float64). The result has ``ceil(len(samples) / factor)`` samples, is
    aligned in time with the input (the filter delay is removed) and is
    clipped to int16.

    Raises ValueError when ``from_rate / to_rate`` is not a whole number.
    """
    return _to_int16(_resample_float(samples, from_rate, to_rate))


def _resample_float(
    samples: npt.ArrayLike, from_rate: int, to_rate: int
) -> npt.NDArray[np.float64]:
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate % to_rate != 0:
        raise ValueError(
            f"can only downsample by an integer factor, not {from_rate} Hz -> {to_rate} Hz"
        )
    signal = np.asarray(samples, dtype=np.float64)
    if signal.ndim != 1:
        raise ValueError(f"expected mono samples (a 1-D array), got shape {signal.shape}")
    factor = from_rate // to_rate
    if factor == 1 or signal.size == 0:
        return signal.copy()
    taps = lowpass_taps(from_rate, to_rate)
    delay = (taps.size - 1) // 2
    # Full convolution, then drop the filter's delay: "same" mode would also
    # do that, but pads to the kernel's length when the input is shorter.
    filtered = np.convolve(signal, taps)[delay : delay + signal.size]
    return filtered[::factor]


def lowpass_taps(from_rate: int, to_rate: int) -> npt.NDArray[np.float64]:
    """A Kaiser-windowed sinc low-pass for decimating ``from_rate`` to ``to_rate``.

    The stopband starts exactly at the new Nyquist frequency, so nothing that
    would alias survives by more than ``STOPBAND_DB``; the length follows from
    Kaiser's formula for that attenuation and transition width (403 taps for
    48 kHz -> 8 kHz). Odd length, symmetric, unity gain at DC.
    """
    nyquist = to_rate / 2
    pass_edge = PASSBAND * nyquist
    cutoff = (pass_edge + nyquist) / 2 / from_rate  # cycles per input sample
    transition = 2 * math.pi * (nyquist - pass_edge) / from_rate  # radians per sample
    length = math.ceil((STOPBAND_DB - 7.95) / (2.285 * transition)) + 1
    length += 1 - length % 2
    beta = 0.1102 * (STOPBAND_DB - 8.7)
    n = np.arange(length) - (length - 1) / 2
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, beta)
    normalized: npt.NDArray[np.float64] = taps / taps.sum()
    return normalized


def _to_int16(signal: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(signal), INT16_MIN, INT16_MAX).astype(np.int16)


# --- synthesis ------------------------------------------------------------------------


def _pyopenjtalk() -> ModuleType:
    """Import the synthesizer on first use, so the rest of chakushin runs without it.

    pyopenjtalk-plus prints an "ONNX Runtime is not installed" warning to
    stdout when imported without onnxruntime. That only disables its guess
    between ナニ and ナン for 何, which no prompt contains, and stdout belongs
    to our command's output, so the warning is dropped.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module("pyopenjtalk")
    except ImportError as exc:
        raise TTSUnavailable(
            f"text-to-speech needs pyopenjtalk-plus ({exc}); {INSTALL_HINT}"
        ) from exc


def synthesize(text: str) -> bytes:
    """Speak ``text`` as 8 kHz, 16-bit little-endian, mono PCM frames."""
    engine = _pyopenjtalk()
    samples, rate = engine.tts(text)
    signal = _resample_float(samples, int(rate), RATE)
    peak = float(np.max(np.abs(signal), initial=0.0))
    if peak > PEAK_LIMIT:
        signal *= PEAK_LIMIT / peak
    return _to_int16(signal).astype("<i2").tobytes()


def write_wav(path: Path, pcm_frames: bytes, rate: int = RATE) -> None:
    """Write 16-bit mono PCM frames to ``path`` as a WAV file, atomically.

    The file is written next to its destination and renamed over it, so
    Asterisk never plays a half-written prompt while they are re-rendered.
    The temporary file is created with the umask's permissions (not
    tempfile's 0600), so Asterisk can read what root wrote.
    """
    if len(pcm_frames) % 2:
        raise ValueError("16-bit PCM needs an even number of bytes")
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temp.open("xb") as file:
            with wave.open(file, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
                wav.writeframes(pcm_frames)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def synthesize_all(out_dir: Path, texts: Mapping[Prompt, str] = TEXTS) -> list[Path]:
    """IVR-11: write ``<out_dir>/<prompt id>.wav`` for every prompt; return the paths.

    Raises TTSUnavailable before creating anything when the synthesizer is
    missing. Existing files are replaced, each one atomically.
    """
    _pyopenjtalk()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for prompt, text in texts.items():
        path = out_dir / f"{prompt.value}.wav"
        write_wav(path, synthesize(text))
        written.append(path)
    return written
