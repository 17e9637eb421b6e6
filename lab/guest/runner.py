"""Running a planned boot: the Runner interface and the real one (QEMU as a
child process, its serial console followed line by line, killed at the
deadline). Tests give boot_and_run a fake Runner that writes a stored
console log and a results tar instead of booting."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol


@dataclass
class Outcome:
    returncode: int | None         # QEMU's exit status (None: never ended by itself)
    timed_out: bool
    stderr: str = ""               # QEMU's own messages (set-up errors)


class Runner(Protocol):
    def run(self, argv: list[str], console: Path, stderr: Path, timeout: float,
            on_line: Callable[[str], None]) -> Outcome:
        """Run the guest described by argv; feed every complete console line to
        on_line while it runs; stop it after timeout seconds."""


class QemuRunner:
    def run(self, argv, console: Path, stderr: Path, timeout: float, on_line) -> Outcome:
        t0 = time.monotonic()
        timed_out = False
        with open(stderr, "wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                follow(proc, console, on_line, t0 + timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return Outcome(proc.returncode, timed_out, stderr.read_text(errors="replace").strip())


def follow(proc, console: Path, on_line, deadline: float) -> None:
    """Wait for proc, feeding new console lines to on_line; TimeoutExpired at the deadline."""
    pos, part = 0, ""
    while True:
        try:
            proc.wait(timeout=0.2)
            done = True
        except subprocess.TimeoutExpired:
            done = False
        if console.exists():
            with open(console, "rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
            pos += len(chunk)
            part += chunk.decode(errors="replace")
            *lines, part = part.split("\n")
            for line in lines:
                on_line(line.rstrip("\r"))
        if done:
            return
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)
