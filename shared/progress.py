"""A progress line for long work: what runs now, N/M, elapsed, ETA.

    from shared.progress import Progress
    with Progress(total=len(jobs), what="lab run") as p:
        for j in jobs:
            p.start(j.name)        # "[3/12] lab run: 7.3 randread-qd32 | 1m02s elapsed, ETA 4m10s"
            run(j)
            p.done()

On a terminal the line is rewritten in place; otherwise (CI logs) one line
per start() is printed. ETA = mean time per finished item x items left;
items may carry a weight when their lengths differ (e.g. seconds of fio
runtime). Importable with no dependencies beyond the standard library.
"""
from __future__ import annotations

import sys
import time


def fmt_duration(s: float | None) -> str:
    if s is None or s != s or s < 0:
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    def __init__(self, total: int, what: str = "", stream=None, clock=time.monotonic, tty=None,
                 total_weight: float | None = None):
        self.total = total
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.tty = self.stream.isatty() if tty is None and hasattr(self.stream, "isatty") else bool(tty)
        self.t0 = clock()
        self.finished = 0
        self.done_weight = 0.0
        self.total_weight = float(total_weight) if total_weight is not None else float(total)
        self.current = ""
        self.cur_weight = 1.0
        self._last_len = 0

    def eta(self) -> float | None:
        if self.done_weight <= 0:
            return None
        rate = (self.clock() - self.t0) / self.done_weight
        return max(0.0, (self.total_weight - self.done_weight) * rate)

    def line(self) -> str:
        n = min(self.finished + (1 if self.current else 0), self.total)
        head = f"[{n}/{self.total}]"
        if self.what:
            head += f" {self.what}:"
        el = fmt_duration(self.clock() - self.t0)
        return f"{head} {self.current} | {el} elapsed, ETA {fmt_duration(self.eta())}"

    def _emit(self, text: str):
        if self.tty:
            pad = " " * max(0, self._last_len - len(text))
            self.stream.write("\r" + text + pad)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, name: str, weight: float = 1.0):
        self.current = name
        self.cur_weight = weight
        self._emit(self.line())

    def done(self, note: str = ""):
        self.finished += 1
        self.done_weight += self.cur_weight
        if note and not self.tty:
            self._emit(f"[{self.finished}/{self.total}] {self.current}: {note}")
        self.current = ""

    def close(self):
        if self.tty and self._last_len:
            self.stream.write("\n")
            self.stream.flush()
        self._last_len = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
