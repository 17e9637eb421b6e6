"""Nightly loop logic with a fake lab runner (the real runner is lab.commands.run:main)."""
import io
import json
import os

from analysis import nightly, synth
from analysis.store import Store


class FakeLab:
    """Writes one results/<run-id>/ per call, like ./pifio run; rate factor per night."""

    def __init__(self, results, rate, tag, fail_every=0):
        self.results, self.rate, self.tag, self.calls, self.fail_every = results, rate, tag, [], fail_every

    def __call__(self, argv):
        self.calls.append(argv)
        i = len(self.calls)
        if self.fail_every and i % self.fail_every == 0:
            return 3
        import numpy as np
        rng = np.random.default_rng(hash((self.tag, i)) % 2**32)
        rid = f"{self.tag}-{i}"
        synth.write_run(self.results, rid,
                        {"nvme-pt/randread": synth.scaled(synth.load_template(), float(rng.normal(self.rate, 0.01)))},
                        synth.meta(rid, engine={"version": f"0.1.0-{self.tag}"}))
        return 0


def test_nightly_flags_regression_against_previous_nights(tmp_path):
    r = str(tmp_path / "results")
    codes = []
    for night, rate in (("2026-01-01", 1.0), ("2026-01-02", 1.0), ("2026-01-03", 0.85)):
        lab = FakeLab(r, rate, night)
        out = io.StringIO()
        rc = nightly.main(["-n", "5", "--night", night, "--results", r, "--matrix", "default", "--", "--kernel",
                           "7.3"], runner=lab, out=out)
        codes.append(rc)
        assert len(lab.calls) == 5
        assert lab.calls[0] == ["--matrix", "default", "--results", r, "--kernel", "7.3"]
    assert codes == [0, 0, 1], codes
    st = Store.for_results(r)
    assert {x["night"] for x in st.runs()} == {"2026-01-01", "2026-01-02", "2026-01-03"}
    comps = st.comparisons()
    assert len(comps) == 2 and comps[-1]["result"]["nightly"]["baseline_nights"] == ["2026-01-01", "2026-01-02"]
    index = open(os.path.join(r, "dashboard", "index.html")).read()
    assert "Nightly trends" in index and "regressed" in index


def test_nightly_failures_and_nothing_produced(tmp_path):
    r = str(tmp_path / "results")
    assert nightly.main(["-n", "2", "--night", "n1", "--results", r, "--no-report"],
                        runner=lambda argv: 1, out=io.StringIO()) == 2

    def boom(argv):
        raise RuntimeError("qemu died")
    assert nightly.main(["-n", "1", "--night", "n1", "--results", r, "--no-report"], runner=boom,
                        out=io.StringIO()) == 2
    lab = FakeLab(r, 1.0, "n2", fail_every=2)
    assert nightly.main(["-n", "4", "--night", "n2", "--results", r, "--no-report"], runner=lab,
                        out=io.StringIO()) == 2          # two passes failed: reported, runs kept
    assert len(Store.for_results(r).runs()) == 2
