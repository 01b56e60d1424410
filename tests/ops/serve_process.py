"""``chakushin serve`` (or any chakushin command) as a real subprocess, for the ops tests.

Its stderr is read by a thread into a list of lines, so that a test waits
for a log event by name (with a bound) instead of sleeping, and the pipe
never fills up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def chakushin_command() -> str:
    command = shutil.which("chakushin", path=os.path.dirname(sys.executable))
    assert command, "the chakushin command is not installed in this environment"
    return command


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment minus the developer's CHAKUSHIN_ settings, plus ``overrides``.

    The test harness's own CHAKUSHIN_TEST_ settings (e.g. the clock a year
    ahead) stay: they are not chakushin's configuration.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CHAKUSHIN_") or k.startswith("CHAKUSHIN_TEST_")
    }
    env.update(overrides)
    return env


class ChakushinProcess:
    def __init__(
        self, args: list[str], env: Mapping[str, str], cwd: Path, *, argv: bool = False
    ) -> None:
        """Run ``chakushin *args``; with ``argv``, ``args`` is the whole command line."""
        self.process = subprocess.Popen(
            args if argv else [chakushin_command(), *args],
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._changed:
            lines = list(self.lines)
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_event(self, name: str, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        """The first event called ``name`` (with these field values); fails after ``timeout``."""

        def found() -> dict[str, Any] | None:
            for event in self.events:
                if event.get("event") == name and all(event.get(k) == v for k, v in fields.items()):
                    return event
            return None

        with self._changed:
            ok = self._changed.wait_for(
                lambda: found() is not None or self.process.poll() is not None, timeout
            )
        event = found()
        if event is None:
            state = "exited" if self.process.poll() is not None else "still running"
            tail = "\n".join(self.lines[-30:])
            raise AssertionError(
                f"no {name} event within {timeout} s (process {state}, waited={ok}); "
                f"stderr:\n{tail}"
            )
        return event

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM; the exit status once the process has ended."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)
