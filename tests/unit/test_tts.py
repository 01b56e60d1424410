"""IVR-11: prompt synthesis to Asterisk's 8 kHz WAV, and the resampler under it."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner, Result

from agi import tts
from agi.prompts import TEXTS, Prompt
from chakushin.cli_prompts import prompts

# --- resample (numpy only, no synthesizer needed) -----------------------------------------


def sine(
    freq: float, amplitude: float, rate: int = 48000, seconds: float = 1.0
) -> npt.NDArray[np.float64]:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def middle(signal: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """The signal without its first and last 50 ms, where the filter sees the edges."""
    edge = len(signal) // 20
    return signal[edge:-edge].astype(np.float64)


def rms(signal: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(signal**2)))


def test_resample_keeps_a_1khz_tone() -> None:
    out = tts.resample(sine(1000, 10000), 48000, 8000)
    assert out.dtype == np.int16
    kept = middle(out)
    spectrum = np.abs(np.fft.rfft(kept * np.hanning(len(kept))))
    peak_hz = np.argmax(spectrum) * 8000 / len(kept)
    assert peak_hz == pytest.approx(1000, abs=8000 / len(kept))
    assert rms(kept) * np.sqrt(2) == pytest.approx(10000, rel=0.01)


def test_resample_removes_what_would_alias() -> None:
    """A 6 kHz tone would fold to 2 kHz at 8 kHz; the low-pass must take it out."""
    out = tts.resample(sine(6000, 10000), 48000, 8000)
    attenuation_db = 20 * np.log10(rms(middle(out)) * np.sqrt(2) / 10000 + 1e-12)
    assert attenuation_db < -40


@pytest.mark.parametrize("length", [48000, 48001, 48005, 100, 1])
def test_resample_divides_the_length(length: int) -> None:
    out = tts.resample(np.zeros(length), 48000, 8000)
    assert abs(len(out) - length / 6) <= 1


def test_resample_other_integer_ratios_and_clipping() -> None:
    assert len(tts.resample(sine(440, 1000, rate=16000), 16000, 8000)) == 8000
    loud = tts.resample(np.full(4800, 40000.0), 48000, 8000)
    assert loud.max() == 32767


@pytest.mark.parametrize(("from_rate", "to_rate"), [(44100, 8000), (8000, 48000), (48000, 0)])
def test_resample_rejects_non_integer_ratios(from_rate: int, to_rate: int) -> None:
    with pytest.raises(ValueError):
        tts.resample(np.zeros(100), from_rate, to_rate)


# --- the catalogue ------------------------------------------------------------------------


def test_IVR_11_prompts_list_json_is_the_catalogue() -> None:
    result = CliRunner().invoke(prompts, ["list", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {str(p): text for p, text in TEXTS.items()}


def test_IVR_11_prompts_list_text_is_tab_separated() -> None:
    result = CliRunner().invoke(prompts, ["list"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines == [[str(p), text] for p, text in TEXTS.items()]


# --- synthesis ----------------------------------------------------------------------------


@dataclass
class Synthesized:
    out_dir: Path
    result: Result


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """Every prompt rendered once for the module (a few seconds of Open JTalk)."""
    pytest.importorskip("pyopenjtalk", reason="the [tts] extra is not installed")
    out_dir = tmp_path_factory.mktemp("sounds") / "chakushin"
    result = CliRunner().invoke(prompts, ["synth", "--out", str(out_dir)], catch_exceptions=False)
    yield Synthesized(out_dir, result)


def test_IVR_11_synth_writes_one_wav_per_prompt(synthesized: Synthesized) -> None:
    result = synthesized.result
    assert result.exit_code == 0, result.stderr
    for prompt in Prompt:
        path = synthesized.out_dir / f"{prompt}.wav"
        assert path.is_file(), prompt
        with wave.open(str(path), "rb") as wav:
            assert wav.getnchannels() == 1
            assert wav.getsampwidth() == 2
            assert wav.getframerate() == 8000
            assert wav.getcomptype() == "NONE"
            assert 0.2 < wav.getnframes() / 8000 < 20, prompt
        assert str(path) in result.stdout
    assert sorted(p.name for p in synthesized.out_dir.iterdir()) == sorted(
        f"{p}.wav" for p in Prompt
    )
    assert "ONNX" not in result.stdout


def test_IVR_11_synthesized_speech_is_audible_and_unclipped(synthesized: Synthesized) -> None:
    pcm = np.frombuffer(tts.synthesize(TEXTS[Prompt.TP_CONFIRM_PASSWORD]), dtype="<i2")
    assert rms(pcm.astype(np.float64)) > 1000
    # Open JTalk overshoots int16 on this prompt; it must be scaled, not clipped.
    assert np.abs(pcm.astype(np.int32)).max() < 32767
    with wave.open(str(synthesized.out_dir / f"{Prompt.TP_CONFIRM_PASSWORD}.wav"), "rb") as wav:
        assert wav.readframes(wav.getnframes()) == pcm.tobytes()


def test_IVR_11_synth_replaces_existing_files(synthesized: Synthesized) -> None:
    """Re-rendering renames a new file over the old one, never rewrites it in place."""
    path = synthesized.out_dir / f"{Prompt.DIGIT_1}.wav"
    before = path.stat().st_ino
    written = tts.synthesize_all(synthesized.out_dir, {Prompt.DIGIT_1: TEXTS[Prompt.DIGIT_1]})
    assert written == [path]
    assert path.stat().st_ino != before
    with wave.open(str(path), "rb") as wav:
        assert wav.getframerate() == 8000
    assert not list(synthesized.out_dir.glob(".*.tmp"))


def test_IVR_11_import_warning_stays_off_stdout() -> None:
    """pyopenjtalk-plus prints an ONNX Runtime warning to stdout on import."""
    pytest.importorskip("pyopenjtalk", reason="the [tts] extra is not installed")
    code = "from agi import tts; tts.synthesize('イチ'); print('done')"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout == "done\n"


def test_IVR_11_synth_without_the_tts_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyopenjtalk", None)  # makes `import pyopenjtalk` fail
    out_dir = tmp_path / "sounds"
    result = CliRunner().invoke(prompts, ["synth", "--out", str(out_dir)])
    assert result.exit_code == 1
    assert "pip install 'chakushin[tts]'" in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stdout == ""
    assert not out_dir.exists()
