"""Progress display for the command line: a bar on a terminal, log lines otherwise.

Used by the CLI only (importing :mod:`orderbridge` does not load it). On a
terminal, log lines and :meth:`ProgressDisplay.message` lines clear the bar,
take a line of their own, and the bar is drawn again below them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import IO, Any

__all__ = ["ProgressDisplay"]


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressDisplay:
    """Shows done/total, rate and time left.

    On a terminal it redraws one line (at most 10 times a second); elsewhere
    it writes a plain line every ``interval`` seconds, so logs stay readable.
    """

    def __init__(
        self, label: str, *, stream: IO[str] | None = None, interval: float = 5.0, tty: bool | None = None
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval if not self.tty else 0.1
        self.started = time.monotonic()
        self._last = 0.0
        self._lock = threading.RLock()
        self._drawn = False
        self._text = ""
        self._swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
        if self.tty:
            self._take_over_logging()

    def _take_over_logging(self) -> None:
        """Route the root logger's handlers that write to our stream around the bar."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                self._swapped.append((handler, handler.setStream(_AroundBar(self))))

    def message(self, text: str) -> None:
        """Write ``text`` as a line of its own (above the bar on a terminal)."""
        self._write_around(text + "\n")

    def _write_around(self, text: str) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[2K")
            self.stream.write(text)
            # A whole line gets the bar back below it; a partial one waits for the next update.
            self._drawn = self._drawn and text.endswith("\n")
            if self._drawn:
                self.stream.write(self._text)
            self.stream.flush()

    def line(self, done: int, total: int | None, extra: str = "") -> str:
        """The text shown for ``done`` of ``total``."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = done / elapsed
        parts = [self.label]
        if total:
            share = min(done / total, 1.0)
            if self.tty:
                width = 24
                filled = int(width * share)
                parts.append("[" + "#" * filled + "." * (width - filled) + "]")
            parts.append(f"{done}/{total} {share:4.0%}")
        else:
            parts.append(f"{done}")
        parts.append(f"{rate:.1f}/s")
        if total and rate > 0 and done < total:
            parts.append(f"left {_clock((total - done) / rate)}")
        parts.append(f"elapsed {_clock(elapsed)}")
        if extra:
            parts.append(extra)
        return " ".join(parts)

    def update(self, done: int, total: int | None, extra: str = "", *, force: bool = False) -> None:
        """Show progress (rate-limited unless ``force``)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self.interval:
                return
            self._last = now
            text = self.line(done, total, extra)
            if self.tty:
                self.stream.write("\r\x1b[2K" + text)
                self._drawn = True
                self._text = text
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def migration_callback(self) -> Any:
        """A ``progress`` callback for :func:`orderbridge.migrate`."""

        def callback(done: int, total: int | None, report: Any) -> None:
            extra = f"(written {report.written}, skipped {report.skipped}, failed {report.failed})"
            if getattr(report, "workers", 0):
                extra += f" workers {report.workers}"
            self.update(done, total, extra, force=total is not None and done >= total)

        return callback

    def close(self) -> None:
        """End the bar's line and give the log handlers their stream back."""
        with self._lock:
            for handler, stream in self._swapped:
                handler.setStream(stream)
            self._swapped.clear()
            if self.tty and self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False


class _AroundBar:
    """The stream a log handler writes to while the bar is shown: each line goes above the bar."""

    def __init__(self, display: ProgressDisplay) -> None:
        self._display = display

    def write(self, text: str) -> int:
        self._display._write_around(text)
        return len(text)

    def flush(self) -> None:
        self._display.stream.flush()
