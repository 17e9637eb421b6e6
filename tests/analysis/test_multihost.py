"""Multi-host: fio --client against two fio --server, results ingested per host.

test_two_local_servers runs two real fio servers on 127.0.0.1 (no lab needed).
test_two_lab_guests needs the lab's multi-guest API (lab.targets.multihost.fio_servers(n)
-> context manager yielding [(host, port)]); it skips until that exists.
"""
import glob
import os
import socket
import subprocess
import time

import pytest

from analysis import compare as cmp
from analysis.store import Store

HERE = os.path.dirname(os.path.abspath(__file__))
JOB = os.path.join(HERE, "fixtures", "jobs", "small-cs.fio")


def find_fio():
    cands = [os.environ.get("PIFIO_FIO", "")]
    cands += sorted(glob.glob(os.path.expanduser("~/.cache/pifio/fio/3.41-*/fio")))
    cands += [os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "bin", "fio")]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_clients(fio, servers, out_path):
    args = [fio, "--output-format=json+"]
    for h, p in servers:
        args += [f"--client=ip:{h},{p}", JOB]
    r = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(out_path, "w") as f:
        f.write(r.stdout)


def check_ingested(path, servers):
    st = Store(":memory:")
    st.ingest_plain_file(path)
    side = cmp.Side(path, ["plain:" + os.path.abspath(path)])
    samples = st.samples(side.run_keys)
    hosts = {s["host"] for s in samples if not s["aggregate"]}
    assert hosts == {f"{h}:{p}" for h, p in servers}
    assert any(s["aggregate"] for s in samples)
    for h, p in servers:
        mine = [s for s in samples if s["host"] == f"{h}:{p}"]
        assert {s["jobname"] for s in mine} == {"randread-4k", "randwrite-4k"}
        assert all(d["total_ios"] > 0 and d["bins"] is not None and len(d["bins"]) for s in mine for d in s["dirs"].values())


@pytest.mark.skipif(find_fio() is None, reason="fio 3.41 not built (./pifio setup)")
def test_two_local_servers(tmp_path):
    fio = find_fio()
    servers, procs = [], []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(subprocess.Popen(["timeout", "120", fio, f"--server=ip:127.0.0.1,{port}"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            servers.append(("127.0.0.1", port))
        deadline = time.time() + 20
        for h, p in servers:
            while True:
                try:
                    socket.create_connection((h, p), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        pytest.fail(f"fio --server on {p} did not come up")
                    time.sleep(0.2)
        out = str(tmp_path / "clients.out")
        run_clients(fio, servers, out)
        check_ingested(out, servers)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in glob.glob("/dev/shm/pifio-fixture.dat"):
            os.unlink(f)


def test_two_lab_guests(tmp_path):
    try:
        from lab.targets import multihost
    except ImportError:
        pytest.skip("lab has no multi-guest API yet (expected lab.targets.multihost.fio_servers(n) yielding "
                    "[(host, port)] of guests running fio --server; see analysis/README.md)")
    fio = find_fio()
    if fio is None:
        pytest.skip("fio 3.41 not built (./pifio setup)")
    why = multihost.unavailable()
    if why:
        pytest.skip(f"lab cannot boot guests: {why}")
    with multihost.fio_servers(2) as servers:
        out = str(tmp_path / "clients.out")
        run_clients(fio, servers, out)
    check_ingested(out, servers)
