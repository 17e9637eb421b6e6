"""Store: ingest is incremental, changed files replace their rows, raw values and bins kept."""
import json
import os
import time

import pytest

from analysis import synth
from analysis.store import Store, StoreError


def test_ingest_incremental_and_bins(tmp_path):
    r = str(tmp_path)
    synth.make_set(r, "a", 3, ["s"], seed=1)
    st = Store.for_results(r)
    rep, keys = st.ingest_results(r)
    assert rep.files == 3 and rep.samples == 6 and keys == ["a-000", "a-001", "a-002"]
    rep, _ = st.ingest_results(r)
    assert rep.files == 0 and rep.skipped_unchanged == 3
    n, with_bins = st.db.execute("SELECT count(*), count(bins) FROM dirstats").fetchone()
    assert n == 6 and with_bins == 6
    from analysis.store import bins_from_blob
    bins = bins_from_blob(st.db.execute("SELECT bins FROM dirstats LIMIT 1").fetchone()[0])
    assert bins.shape[1] == 2 and len(bins) > 50 and (bins[:, 1] > 0).all()
    # a rewritten file replaces its rows, nothing is duplicated
    f = os.path.join(r, "a-001", "s", "fio.json")
    obj = json.load(open(f))
    obj["jobs"] = obj["jobs"][:1]
    time.sleep(0.01)
    json.dump(obj, open(f, "w"))
    rep, _ = st.ingest_results(r)
    assert rep.files == 1
    assert st.db.execute("SELECT count(*) FROM samples").fetchone()[0] == 5
    assert st.db.execute("SELECT count(*) FROM dirstats").fetchone()[0] == 5
    st.close()
    assert os.path.isfile(os.path.join(r, "pifio.sqlite"))


def test_bad_meta_and_duplicate_ids(tmp_path):
    r = str(tmp_path)
    os.makedirs(os.path.join(r, "x"))
    open(os.path.join(r, "x", "meta.json"), "w").write("{not json")
    with pytest.raises(StoreError, match="meta.json: not valid JSON"):
        Store(":memory:").ingest_results(r)
    open(os.path.join(r, "x", "meta.json"), "w").write(json.dumps({"schema": "other/9"}))
    with pytest.raises(StoreError, match="want 'pifio-run/1'"):
        Store(":memory:").ingest_results(r)


def test_skips_recorded(tmp_path):
    r = str(tmp_path)
    m = synth.meta("k")
    m["scenarios"] = {"dm-crypt": {"skipped": "kernel lacks dm-crypt PI pass-through"}}
    synth.write_run(r, "k", {"s": synth.load_template()}, m)
    st = Store(":memory:")
    st.ingest_results(r)
    assert st.skips(["k"]) == [("k", "dm-crypt", "kernel lacks dm-crypt PI pass-through")]
