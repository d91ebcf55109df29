"""Count, rate and ETA of a batch run, as one line for the console and the app."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def duration_words(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


@dataclass
class BatchProgress:
    total: int
    """Rows the run may write: images × engines."""
    analysed: int = 0
    skipped: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def handled(self) -> int:
        return self.analysed + self.skipped

    def rate(self) -> float:
        """Analysed images per second so far (skipped ones cost almost nothing and are left out)."""
        elapsed = time.monotonic() - self.started
        return self.analysed / elapsed if elapsed > 0 else 0.0

    def line(self, engine: str) -> str:
        rate = self.rate()
        remaining = self.total - self.handled
        eta = duration_words(remaining / rate) if rate > 0 else "…"
        return (f"{engine}: {self.handled}/{self.total} rows ({self.errors} errors, {self.skipped} already done) "
                f"· {rate:.2f} images/s · ETA {eta}")
