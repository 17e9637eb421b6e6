import io

from shared.progress import Progress, fmt_duration


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_eta_and_lines():
    c, out = Clock(), io.StringIO()
    p = Progress(4, "lab run", stream=out, clock=c, tty=False)
    p.start("6.1 randread")
    assert "[1/4] lab run: 6.1 randread" in out.getvalue() and "ETA ?" in out.getvalue()
    c.t = 10
    p.done()
    c.t = 10
    p.start("6.12 randread")
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("[2/4]") and "10s elapsed" in last and "ETA 30s" in last


def test_weights_and_tty_rewrite():
    c, out = Clock(), io.StringIO()
    with Progress(2, "x", stream=out, clock=c, tty=True, total_weight=30) as p:
        p.start("short", weight=10)
        c.t = 5
        p.done()
        p.start("long", weight=20)
        assert p.eta() == 10.0
        p.done()
    s = out.getvalue()
    assert s.count("\r") == 2 and s.endswith("\n")


def test_fmt():
    assert fmt_duration(59) == "59s" and fmt_duration(61) == "1m01s" and fmt_duration(3700) == "1h01m"
    assert fmt_duration(None) == "?"
