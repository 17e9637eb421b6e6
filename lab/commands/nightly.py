"""./pifio nightly — analysis.nightly's loop, with `./pifio run` as its runner."""
from __future__ import annotations

from analysis import nightly

from . import run


def main(argv) -> int:
    return nightly.main(argv, runner=lambda a: run.main(a) or 0)
