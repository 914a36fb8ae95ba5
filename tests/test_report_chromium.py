"""report.html as a browser lays it out: headless Chromium renders a classification run's, a language-model
run's and a tuning study's report at 1280 px and at phone width (390 px), and the page as rendered is
measured (no sideways overflow, the header's text, figures side by side at readable sizes, the best trial
highlighted) and screenshotted (the headline card's tint is in the picture).

Chrome will not make a window narrower than 500 px, so each report is shown in an iframe of the exact width
inside a small wrapper page that measures the report's own document (``--allow-file-access-from-files``).
Skipped where Debian's ``chromium`` is not installed (``apt-get install chromium``; CI's ``.ci/run`` does).
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from descend.app import run_training

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-file-access-from-files",
         "--hide-scrollbars", "--virtual-time-budget=5000"]

# The wrapper: the report in an iframe `w` px wide; once it has loaded, what the layout came to is written
# into the wrapper's DOM as JSON (read back with --dump-dom).
WRAPPER = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{{margin:0;padding:0;background:#fff}}
iframe{{border:0;display:block;width:{w}px;height:{h}px}}</style></head><body><iframe id=f src="{src}"></iframe>
<script>
const f = document.getElementById("f");
f.addEventListener("load", () => {{
  const d = f.contentDocument, e = d.documentElement, rect = x => x.getBoundingClientRect();
  const clone = d.body.cloneNode(true);
  clone.querySelectorAll("pre").forEach(p => p.remove());
  const best = d.querySelector("tr.best");
  const out = {{
    width: e.clientWidth, scrollWidth: e.scrollWidth, height: e.scrollHeight,
    h1: d.querySelector("h1").textContent, subtitle: (d.querySelector(".subtitle") || {{}}).textContent,
    headings: [...d.querySelectorAll("h2")].map(x => x.textContent),
    stats: [...d.querySelectorAll(".stat")].map(x => [x.querySelector(".label").textContent,
                                                     x.querySelector(".value").textContent, x.className]),
    figures: [...d.querySelectorAll(".gallery figure")].map(x => {{ const r = rect(x.querySelector("img"));
      return [Math.round(r.left), Math.round(r.top), Math.round(r.width)]; }}),
    scrolls: [...d.querySelectorAll(".scroll")].map(x => [x.scrollWidth, x.clientWidth, Math.round(rect(x).right)]),
    best: best ? [best.cells[0].textContent, getComputedStyle(best.cells[0]).backgroundColor] : null,
    text: clone.textContent }};
  const p = document.createElement("pre"); p.id = "measure"; p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
}});
</script></body></html>"""


def _chromium(tmp: Path, *args) -> str:
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args], capture_output=True,
                       text=True, timeout=120)
    return r.stdout


def measure(report: Path, width: int, tmp: Path) -> dict:
    """What the report's layout came to in a ``width`` px wide viewport (see WRAPPER)."""
    page = tmp / f"measure-{width}.html"
    page.write_text(WRAPPER.format(w=width, h=800, src=report.resolve().as_uri()), encoding="utf-8")
    dom = _chromium(tmp, "--window-size=1400,900", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found, f"the wrapper page wrote no measurement; chromium printed: {dom[-1500:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(report: Path, width: int, png: Path, tmp: Path) -> dict:
    """A full-page screenshot of the report at ``width`` px (PNG at ``png``); returns :func:`measure`'s dict."""
    m = measure(report, width, tmp)
    page = tmp / f"shot-{width}.html"
    page.write_text(WRAPPER.format(w=width, h=m["height"], src=report.resolve().as_uri()), encoding="utf-8")
    _chromium(tmp, f"--window-size={max(width, 500)},{m['height']}", f"--screenshot={png}", page.as_uri())
    from PIL import Image
    with Image.open(png) as im:
        im.crop((0, 0, width, im.size[1])).convert("RGB").save(png)
    return m


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    run_training({"name": "digits-cnn", "data": {"name": "digits", "subset": 400, "batch_size": 64},
                  "model": {"preset": "cnn", "hidden": [4, 8]}, "train": {"epochs": 2}},
                 out=root / "cls", progress=False)
    text = root / "text.txt"
    text.write_text("descend trains neural networks from first principles on NumPy. " * 40)
    run_training({"name": "char-lm", "data": {"path": str(text), "context": 16, "batch_size": 32},
                  "model": {"preset": "lstm", "hidden": [16]}, "schedule": {"name": "cosine"},
                  "train": {"epochs": 2, "clip_grad_norm": 1.0}}, out=root / "lm", progress=False)
    from descend.tune import run_study
    run_study({"name": "tune-mlp", "data": {"subset": 200}, "model": {"preset": "mlp"}, "train": {"epochs": 2},
               "tune": {"method": "random", "metric": "val_loss", "trials": 4, "pruner": "none", "seed": 0,
                        "space": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
                                  "model.hidden": {"type": "categorical", "choices": [[16], [32, 16]]},
                                  "model.dropout": {"type": "float", "low": 0.0, "high": 0.3}}}},
              out=root / "tune")
    return {"cls": root / "cls" / "report.html", "lm": root / "lm" / "report.html",
            "tune": root / "tune" / "report.html", "tmp": root}


def test_classification_report_fits_a_phone_and_leads_with_the_test_accuracy(reports, tmp_path):
    png = tmp_path / "cls-390.png"
    m = screenshot(reports["cls"], 390, png, tmp_path)
    assert m["width"] == 390 and m["scrollWidth"] <= 390, m["scrollWidth"]        # no sideways scrolling
    assert m["h1"] == "digits-cnn" and m["subtitle"].startswith("Classification on digits")
    label, value, cls = m["stats"][0]
    assert label == "Test accuracy" and re.fullmatch(r"\d{1,3}\.\d\d %", value) and "lead" in cls
    for heading in ("Final metrics", "Curves", "Confusion matrix", "Model", "Configuration"):
        assert heading in m["headings"]
    assert all(right <= 390 for _, _, right in m["scrolls"])           # wide tables scroll inside the page
    assert all(left >= 0 and left + w <= 390 for left, _, w in m["figures"])
    assert not re.search(r"\b(True|False|None)\b", m["text"])            # outside the model's repr
    assert "Learning rate 0.003 throughout" in m["text"]
    from PIL import Image
    with Image.open(png) as im:
        pixels = np.asarray(im)
    assert pixels.shape[1] == 390 and pixels.shape[0] == m["height"]
    tint = np.all(pixels[:600] == (221, 244, 255), axis=-1)          # the headline card's background
    assert tint.sum() > 2000, tint.sum()


def test_classification_curves_sit_side_by_side_at_readable_size_on_a_wide_screen(reports, tmp_path):
    m = measure(reports["cls"], 1280, tmp_path)
    assert m["scrollWidth"] <= 1280
    loss, acc = m["figures"][:2]
    assert loss[1] == acc[1] and acc[0] > loss[0] + loss[2]            # one row, loss on the left
    assert min(loss[2], acc[2]) >= 450                                  # half the page each, not thumbnails
    assert all(scroll_w <= client_w for scroll_w, client_w, _ in m["scrolls"])   # every table fits


def test_language_model_report_shows_bits_and_nats_and_fits_a_phone(reports, tmp_path):
    m = measure(reports["lm"], 390, tmp_path)
    assert m["scrollWidth"] <= 390 and m["h1"] == "char-lm"
    assert m["subtitle"].startswith("Character-level language model on text.txt")
    assert m["stats"][0][0] == "Test bits per character" and m["stats"][0][1].endswith(" bits/char")
    assert any(v.endswith(" nats/char") for _, v, _ in m["stats"])
    assert "Loss (cross-entropy, nats/char)" in m["text"] and "Bits per character" in m["text"]
    assert "throughout" not in m["text"] and len(m["figures"]) >= 2      # a cosine schedule is plotted
    assert all(scroll_w <= client_w for scroll_w, client_w, _ in m["scrolls"])


def test_tuning_report_table_fits_the_page_and_highlights_the_best_trial(reports, tmp_path):
    wide = measure(reports["tune"], 1280, tmp_path)
    assert wide["scrollWidth"] <= 1280 and wide["h1"] == "Tuning tune-mlp"
    assert all(scroll_w <= client_w for scroll_w, client_w, _ in wide["scrolls"])    # nothing scrolls at 1280
    text, background = wide["best"]
    assert text.endswith("★") and background == "rgb(218, 251, 225)"
    assert wide["stats"][0][0] == "Best validation loss"
    phone = screenshot(reports["tune"], 390, tmp_path / "tune-390.png", tmp_path)
    assert phone["scrollWidth"] <= 390                                # the table scrolls in its own box
    assert all(right <= 390 for _, _, right in phone["scrolls"])
