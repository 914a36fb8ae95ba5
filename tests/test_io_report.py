"""HTML report: well-formed, self-contained (no external resource), escaped, images decode as PNGs."""

import base64
import io
from html.parser import HTMLParser

import matplotlib.image as mpimg
import numpy as np
import pytest

from descend.io import Report, plots

PNG = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input"}


class Collector(HTMLParser):
    """Checks tag nesting and collects headings, images, table cells, notes and every attribute URL."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.h1, self.h2, self.imgs, self.cells, self.notes = [], [], [], [], [], [], []
        self.urls, self.pre, self.title = [], [], ""
        self._capture = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href"):
            if name in attrs:
                self.urls.append(attrs[name])
        if tag == "img":
            self.imgs.append(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("h1", "h2", "td", "th", "pre", "title") or "note" in (attrs.get("class") or ""):
            self._capture = [tag if "note" not in (attrs.get("class") or "") else "note", ""]

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if self._capture and (tag == self._capture[0] or (self._capture[0] == "note" and tag == "div")):
            kind, text = self._capture
            {"h1": self.h1, "h2": self.h2, "td": self.cells, "th": self.cells, "pre": self.pre,
             "note": self.notes}.get(kind, []).append(text)
            if kind == "title":
                self.title = text
            self._capture = None

    def handle_data(self, data):
        if self._capture:
            self._capture[1] += data


def parse(text):
    p = Collector()
    p.feed(text)
    p.close()
    assert p.stack == [], f"unclosed tags {p.stack}"
    return p


def build():
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.6, 0.8, 0.9]}
    r = Report("MLP <on> MNIST & friends", subtitle="run 2024-01-01")
    r.text("A short run.\n\nSecond paragraph.")
    r.section("Configuration").kv({"model": {"hidden": 128, "act": "relu"}, "optim": {"lr": 0.001},
                                   "seed": 0, "amsgrad": False, "clip": None}, caption="config")
    r.section("Model").pre("Sequential(\n  (0): Linear(in=784, out=128)\n)")
    r.section("Training").image(plots.plot_loss(history), caption="loss").image(plots.plot_metrics(history))
    r.table([{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5, "note": "<b>best</b>"}], caption="history")
    r.note("early stopping after epoch 2", level="warning").note("gradients healthy", level="success")
    return r


def test_report_parses_and_contains_every_section():
    p = parse(build().render())
    assert p.title == "MLP <on> MNIST & friends" and p.h1 == ["MLP <on> MNIST & friends"]
    assert p.h2 == ["Configuration", "Model", "Training"]
    assert {"model.hidden", "128", "optim.lr", "0.001", "seed", "False", "—"} <= set(p.cells)
    assert p.pre == ["Sequential(\n  (0): Linear(in=784, out=128)\n)"]
    assert p.notes == ["warning: early stopping after epoch 2", "success: gradients healthy"]
    # the data table: header, then rows; a missing cell is empty, floats use the .4g format
    assert p.cells[-9:] == ["epoch", "loss", "note", "0", "1", "", "1", "0.5", "<b>best</b>"]


def test_embedded_images_decode_as_pngs_of_plot_size():
    p = parse(build().render())
    assert len(p.imgs) == 2
    for attrs in p.imgs:
        assert attrs["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(attrs["src"].split(",", 1)[1], validate=True)
        assert png.startswith(PNG)
        assert mpimg.imread(io.BytesIO(png), format="png").shape == (400, 640, 4)
        assert attrs["alt"]


def test_report_references_no_external_resource():
    text = build().render()
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    p = parse(text)
    assert "script" not in p.tags and "link" not in p.tags
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in p.urls), p.urls


def test_all_text_is_escaped():
    r = Report("<script>alert(1)</script>")
    r.section('<img src="http://x">').text("<script>bad()</script>").kv({"<k>": "<v>"}).pre("</pre><script>")
    r.table([{"<c>": "</td></table><script>"}]).note("<b>", level="error")
    text = r.render()
    p = parse(text)
    assert "script" not in p.tags and p.tags.count("img") == 0
    assert "http://" in p.h2[0]                       # present only as text, never as a reference
    assert p.urls == []                               # one section: no contents list, no links


def test_save_writes_the_rendered_document_atomically(tmp_path):
    r = build()
    path = r.save(tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8") == r.render()
    assert [q.name for q in path.parent.iterdir()] == ["report.html"]


def test_image_from_path_and_from_figure(tmp_path):
    png_path = plots.plot_lr(np.geomspace(1e-4, 1, 20), tmp_path / "lr.png")
    fig, ax = plots.new_figure((2, 1), 50)
    ax.plot([0, 1], [1, 0])
    p = parse(Report("x").image(png_path).image(fig).render())
    shapes = [mpimg.imread(io.BytesIO(base64.b64decode(a["src"].split(",", 1)[1])), format="png").shape
              for a in p.imgs]
    assert shapes == [(400, 640, 4), (50, 100, 4)]


def test_clear_errors_for_bad_input():
    r = Report("x")
    with pytest.raises(ValueError, match="not a PNG"):
        r.image(b"GIF89a....")
    with pytest.raises(TypeError, match="PNG bytes, a path or a Figure"):
        r.image(123)
    with pytest.raises(ValueError, match=r"one of .*'warning'.*got 'loud'"):
        r.note("x", level="loud")
    with pytest.raises(TypeError, match="list of dicts"):
        r.table([1, 2])
    with pytest.raises(TypeError, match="mapping"):
        r.kv([("a", 1)])


def test_table_of_contents_links_to_sections():
    p = parse(build().render())
    assert p.urls[:3] == ["#s1", "#s2", "#s3"]
