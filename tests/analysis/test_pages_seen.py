"""What a person sees in headless Chromium: the verdict first, failures before
details, every image drawn — on pages made from lab run directories (the
layout ./pifio run writes; a real one from tests/analysis/fixtures/labrun-*)
and from a synthetic nightly history with a known change point."""
import glob
import os
import shutil

import pytest

import browser
from analysis import cli, synth
from conftest import FIXTURES

pytestmark = pytest.mark.skipif(browser.chromium() is None,
                                reason="chromium not installed (./pifio setup installs it: apt-get install chromium)")
FAILING = "4096p8-t1.none.pifio"
REAL = sorted(glob.glob(os.path.join(FIXTURES, "labrun-*")))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    r = str(tmp_path_factory.mktemp("results"))
    synth.lab_run(r, "20260124-221500-7.3", fail_reftag=FAILING, seed=1)
    synth.lab_run(r, "20260125-221500-7.3", seed=2)
    for d in REAL:
        shutil.copytree(d, os.path.join(r, os.path.basename(d)))
    assert synth.nightly_history(r) == [0, 0, 0, 1]        # the change point: the last night
    assert cli.report(["--results", r]) == 0
    out = os.path.join(r, "dashboard")
    pages = {p: os.path.join(out, p) for p in os.listdir(out) if p.endswith(".html")}
    return r, out, pages


def _page_of(pages, run_id):
    return next(p for n, p in pages.items() if n.startswith("run-") and run_id in n)


def _all_images_drawn(probe):
    assert probe["imgs"], "no images on the page"
    for i in probe["imgs"]:
        assert i["complete"] and i["w"] > 100 and i["h"] > 100, i       # decoded
        assert i["shown_w"] > 100 and i["shown_h"] > 50, i              # and laid out


def test_failing_run_page(site):
    _, out, pages = site
    p = browser.probe(_page_of(pages, "20260124-221500-7.3"))
    text = p["text"]
    assert text.startswith("FAIL: 12 scenarios run, 36 jobs (1 failed), PI mismatches reftag 3, device PI errors 0")
    pos = p["pos"]
    assert pos["verdict"] < pos["failed"] < pos["skipped"] < pos["details"] < pos["pi-cost"] < pos["kmsgs"]
    failed = text[text.index("What failed (2)"):text.index("Skipped (2)")]
    assert f"{FAILING}/read-verify: PI mismatches found by the host: reftag 3" in failed
    assert "ref tag error at location 8" in failed
    # the kernel line also sits under its scenario's table, before that group's latency chart
    grp = text[text.index("| none | 4096+8/t1"):text.index("| none | 512+8/t3/first")]
    assert "read-verify: nvme0n1: ref tag error" in grp
    # PI cost groups (icount clock): guest CPU per I/O, no IOPS
    cost = text[text.index("PI cost: kernel"):text.index("PI cost: passthrough")]
    assert "CPU us/IO" in cost and "IOPS" not in cost
    _all_images_drawn(p)
    alts = [i["alt"] for i in p["imgs"]]
    assert sum(a.startswith("latency ") for a in alts) == 3 and "PI cost" in alts
    # raw JSON+ links resolve to the run's files
    raw = [h for h in p["links"] if h.endswith((".json", ".json.gz"))]
    assert len(raw) >= 24
    for h in raw:
        assert os.path.isfile(os.path.normpath(os.path.join(out, h))), h


def test_passing_run_banner_is_green(site, tmp_path):
    _, _, pages = site
    page = _page_of(pages, "20260125-221500-7.3")
    p = browser.probe(page)
    assert p["text"].startswith("PASS: 12 scenarios run, 36 jobs (0 failed)")
    assert "failed" not in p["pos"] and "What failed" not in p["text"]
    _all_images_drawn(p)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    shot = mpimg.imread(browser.screenshot(page, str(tmp_path / "run.png"), 1280, 900))[..., :3]
    band = shot[25:60, 40:1200]                      # the banner, top of the window
    green = (band[..., 1] > 0.8) & (band[..., 0] < 0.9) & (band[..., 2] < 0.9)
    assert green.mean() > 0.5


@pytest.mark.skipif(not REAL, reason="no real lab run fixture (tests/analysis/fixtures/labrun-*)")
def test_real_lab_run_page(site):
    _, out, pages = site
    for d in REAL:
        run_id = os.path.basename(d)
        p = browser.probe(_page_of(pages, run_id))
        head = p["text"].split("\n", 1)[0]
        assert head.startswith(("PASS: ", "FAIL: ")) and " scenarios run, " in head and "PI mismatches" in head
        pos = p["pos"]
        assert pos["verdict"] < pos["details"]
        if "failed" in pos:
            assert pos["failed"] < pos["details"]
        if p["imgs"]:
            _all_images_drawn(p)
        raw = [h for h in p["links"] if h.endswith((".json", ".json.gz"))]
        assert raw and all(os.path.isfile(os.path.normpath(os.path.join(out, h))) for h in raw)
        if run_id == "labrun-7.3":            # what that run is known to hold (fixtures/README.md)
            text = p["text"]
            assert head == ("PASS: 14 scenarios run, 56 jobs (0 failed), PI mismatches 0, device PI errors 0, "
                            "kernel integrity errors 0, 0 skipped")
            alts = [i["alt"] for i in p["imgs"]]
            assert alts == ["latency 7.3.4+deb13-cloud-amd64 | none | 4096+8/t1",
                            "latency 7.3.4+deb13-cloud-amd64 | dm-linear | 4096+8/t1", "PI cost"]
            groups = text[text.index("| none | 4096+8/t1"):text.index("Cost of PI")]
            assert "pifio IOPS\tbuiltin IOPS\tratio" in groups
            cost = groups[groups.index("PI cost: nopi"):]
            assert cost.count("CPU us/IO") == 10 and "IOPS" not in cost
            assert len(raw) == 16 + 40                # every job, every engine (cost: repetition 1)


def test_index_verdicts_first(site):
    _, _, pages = site
    p = browser.probe(pages["index.html"])
    text = p["text"]
    first = text.split("\n", 1)[0]
    assert first.startswith("latest run ") and ("PASS: " in first or "FAIL: " in first)
    assert "night 2026-01-04: REGRESSION: " in text.split("pifio dashboard")[0]
    pos = p["pos"]
    assert pos["verdict"] < pos["night-verdict"] < pos["latest-night"] < pos["runs"] < pos["comparisons"]
    # latest night vs previous: the scenario that moved, not the one that did not
    night = text[text.index("Latest night (2026-01-04) vs previous"):text.index("\nRuns\n")]
    assert "nvme-pt/4096p8-t1" in night and "regressed" in night
    assert "dm-linear/4096p8-t1" not in night
    _all_images_drawn(p)


def test_comparison_page_regressions_on_top(site):
    r, out, pages = site
    # the newest nightly comparison: night 4 against nights 1-3
    cmps = sorted(n for n in pages if n.startswith("cmp-"))
    p = browser.probe(pages[cmps[-1]])
    text = p["text"]
    assert text.startswith("REGRESSION: ") and " regressed" in text.split("\n", 1)[0]
    table = text[text.index("scenario\tmetric\tA\tB\tchange\tsignificance\tverdict"):]
    rows = [ln.split("\t") for ln in table.splitlines()[1:] if ln.count("\t") >= 6]
    verdicts = [row[-1].strip() for row in rows]
    assert verdicts[0] == "regressed"
    last_reg = max(i for i, v in enumerate(verdicts) if v == "regressed")
    first_noise = verdicts.index("within noise")
    assert last_reg < first_noise
    assert all(row[0].startswith("nvme-pt/") for row in rows[:last_reg + 1])
    assert all(row[5].startswith("p=") for row in rows[:last_reg + 1])
    # the robot's one-liners come before the table
    assert text.index("regression of nvme-pt/4096p8-t1") < text.index("scenario\tmetric")
    _all_images_drawn(p)
    assert sum(i["alt"].startswith("c") and "lat-" in i["alt"] for i in p["imgs"]) >= 2
    earlier = browser.probe(pages[cmps[0]])                  # night 2 vs night 1: nothing moved
    assert earlier["text"].startswith("no regression: ")


def test_nightly_page_trends_link_to_runs(site):
    _, out, pages = site
    p = browser.probe(pages["nightly.html"])
    assert p["text"].startswith("night 2026-01-04: REGRESSION: ")
    _all_images_drawn(p)
    trends = [i for i in p["imgs"] if i["alt"].startswith("trend ")]
    assert len(trends) >= 8
    # the flagged series come first, and they are the one that moved
    assert trends[0]["alt"].startswith("trend nvme-pt/4096p8-t1")
    assert len(p["areas"]) == 4 * len(trends)                  # a point per night
    for a in p["areas"]:
        assert os.path.isfile(os.path.join(out, a["href"])), a
        x, y, _ = (int(c) for c in a["coords"].split(","))
        assert 0 < x < trends[0]["w"] and 0 < y < trends[0]["h"]
    nights = [a["href"] for a in p["areas"][:4]]
    assert [n.split("-", 2)[2][1:11] for n in nights] == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
