"""What a person sees: load a page in headless Chromium and read it back.

probe(page) copies the page beside itself with a small script appended that,
after the load event, records the rendered text (innerText: only what is laid
out and visible), every image's natural and drawn size, the vertical position
of named elements, and the links; --dump-dom prints the DOM with that record
in it. screenshot(page, png) takes a picture. Both need /usr/bin/chromium
(lab/setup.py installs it); tests skip (77) without it.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]

PROBE_JS = """<script>
window.addEventListener('load', function () {
  var pos = function (id) { var e = document.getElementById(id);
    return e ? e.getBoundingClientRect().top + window.scrollY : null; };
  var ids = {};
  document.querySelectorAll('[id]').forEach(function (e) { if (e.id !== '__probe') ids[e.id] = pos(e.id); });
  var out = {
    title: document.title,
    text: document.body.innerText,
    imgs: Array.prototype.map.call(document.images, function (i) {
      var r = i.getBoundingClientRect();
      return {alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight, shown_w: r.width,
              shown_h: r.height, top: r.top + window.scrollY}; }),
    pos: ids,
    links: Array.prototype.map.call(document.querySelectorAll('a[href]'), function (a) {
      return a.getAttribute('href'); }),
    areas: Array.prototype.map.call(document.querySelectorAll('area[href]'), function (a) {
      return {href: a.getAttribute('href'), coords: a.getAttribute('coords')}; })
  };
  var pre = document.createElement('pre');
  pre.id = '__probe';
  pre.style.display = 'none';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

_PROBE_RE = re.compile(r'<pre id="__probe"[^>]*>(.*?)</pre>', re.S)


def chromium() -> str | None:
    for c in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        p = shutil.which(c)
        if p:
            return p
    return None


def run(args, timeout=120) -> subprocess.CompletedProcess:
    prof = tempfile.mkdtemp(prefix="pifio-chromium-")
    try:
        return subprocess.run([chromium()] + FLAGS + [f"--user-data-dir={prof}"] + args,
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def probe(page: str, width=1280, height=1000) -> dict:
    """The probe record of one HTML file (see the module doc)."""
    src = open(page, encoding="utf-8").read()
    tmp = os.path.join(os.path.dirname(page), ".probe-" + os.path.basename(page))
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(src.replace("</body>", PROBE_JS + "</body>"))
    try:
        r = run([f"--window-size={width},{height}", "--virtual-time-budget=10000", "--dump-dom",
                 "file://" + os.path.abspath(tmp)])
    finally:
        os.unlink(tmp)
    m = _PROBE_RE.search(r.stdout)
    if not m:
        raise AssertionError(f"no probe record from chromium (rc {r.returncode}): {r.stderr[-1500:]}")
    return json.loads(html.unescape(m.group(1)))


def screenshot(page: str, png: str, width=1280, height=1000) -> str:
    r = run([f"--screenshot={png}", f"--window-size={width},{height}", "file://" + os.path.abspath(page)])
    if not os.path.isfile(png):
        raise AssertionError(f"no screenshot (rc {r.returncode}): {r.stderr[-1500:]}")
    return png
