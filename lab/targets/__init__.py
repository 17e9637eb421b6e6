"""Where a run plan runs, one module per target, each `run(plan) -> Outcome`:
lab (QEMU guests, one boot per kernel + the PI cost boot), multihost (N fio
--server guests, one fio client), hostdev (this host's real NVMe namespaces)."""
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    status: int                                   # the command's exit status
    run_dirs: list[Path] = field(default_factory=list)
