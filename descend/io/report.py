"""A self-contained HTML report: one file, no network, readable offline and attachable to an email.

Build it section by section, then write it (atomically)::

    report = Report("MNIST MLP")
    report.section("Configuration").kv(config)
    report.section("Model").pre(str(model))
    report.section("Training").image(plot_loss(history)).table(history.to_rows())
    report.note("early stopping after epoch 12 (best val_loss 0.081 at epoch 9)", level="warning")
    report.save("runs/mnist/report.html")

A part that owns some findings contributes them as a :class:`ReportSection` (a heading plus any of a
key-value table, text, images, a data table and notes); :meth:`Report.add` renders one. A
:class:`ReportContext` carries what such a part may look at when asked for its sections (a run's folder,
config, data, model, trainer, history, summary) and collects the ``sections`` and ``notes`` it adds: a
training callback with a ``report_sections(ctx)`` method is asked exactly this way.

Every piece of text is escaped with ``html.escape``; images are PNGs embedded as base64
``data:image/png`` URIs; the CSS is a short inline ``<style>``. Nothing refers to an external resource.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text

__all__ = ["Report", "ReportSection", "ReportContext", "Cell"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LEVELS = ("info", "success", "warning", "error")

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;max-width:1180px;
margin:1.5rem auto;padding:0 1rem;background:#fff}
h1{font-size:1.75rem;line-height:1.2;margin:0 0 .3rem;overflow-wrap:anywhere}h2{font-size:1.25rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
.subtitle{color:#59636e;margin:0 0 .6rem}p{max-width:75ch}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(12.5rem,1fr));gap:.6rem;margin:.8rem 0}
.stat{border:1px solid #d0d7de;border-radius:8px;padding:.45rem .8rem;background:#f6f8fa}
.stat .label{font-size:.8rem;color:#59636e}.stat .value{font-size:1.2rem;font-weight:600;
font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.stat.lead{background:#ddf4ff;border-color:#54aeff;grid-column:span 2}
.stat.lead .value{font-size:1.55rem}
.scroll{overflow-x:auto;max-width:100%;margin:.6rem 0}table{border-collapse:collapse;font-size:.9rem}
.scroll>table{margin:0}.caption{color:#59636e;font-size:.9rem;margin-top:.6rem}.caption+.scroll{margin-top:.2rem}
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f6f8fa}thead th{vertical-align:bottom}td.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}tr.best td,tr.best th{background:#dafbe1;font-weight:600}
td.muted{color:#8c959f}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.7rem;overflow-x:auto;
font-size:.85rem;margin:0}figure{margin:1rem 0;min-width:0}figure img{display:block;max-width:100%;height:auto;
border:1px solid #eee}figcaption{color:#59636e;font-size:.9rem}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));gap:0 1.2rem}
.gallery figure img{width:100%}.row{display:flex;flex-wrap:wrap;gap:0 2rem;align-items:flex-start}
.row>div{min-width:0;max-width:100%}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,340px),
1fr));gap:0 1.2rem;align-items:start}
.note{border-left:4px solid;padding:.4rem .8rem;margin:.6rem 0;border-radius:4px}.note.info{border-color:#0969da;
background:#ddf4ff}.note.success{border-color:#1a7f37;background:#dafbe1}.note.warning{border-color:#9a6700;
background:#fff8c5}.note.error{border-color:#cf222e;background:#ffebe9}
nav ul{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;padding:0;margin:.6rem 0;list-style:none}
footer{color:#8c959f;font-size:.8rem;margin-top:3rem}details{margin:.8rem 0}summary{cursor:pointer;color:#0969da}
@media (max-width:600px){body{margin-top:1rem}h1{font-size:1.45rem}.stats{grid-template-columns:1fr 1fr}
.stat.lead{grid-column:1/-1}.stat .value{font-size:1.05rem}.stat.lead .value{font-size:1.35rem}
table{font-size:.82rem}th,td{padding:.2rem .4rem}}
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Cell:
    """A table cell given as already formatted ``text``: ``hint`` becomes its tooltip (the ``title``
    attribute, e.g. the raw ``summary.json`` key), ``numeric`` right-aligns it, ``muted`` greys it."""

    text: str
    hint: str | None = None
    numeric: bool = False
    muted: bool = False


def _cell_html(value, float_format: str, tag: str = "td") -> str:
    """One ``<td>`` (or ``<th>``) for a value: a :class:`Cell` as given, anything else through :func:`_format`."""
    if isinstance(value, Cell):
        classes = " ".join(c for c, on in (("num", value.numeric), ("muted", value.muted)) if on)
        attrs = f' class="{classes}"' if classes else ""
        if value.hint:
            attrs += f' title="{_esc(value.hint)}"'
        return f"<{tag}{attrs}>{_esc(value.text)}</{tag}>"
    text, num = _format(value, float_format)
    return f"<{tag}{' class=num' if num else ''}>{_esc(text)}</{tag}>"


def _format(value, float_format: str) -> tuple[str, bool]:
    """(text, is_number) for a table cell."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "—", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        return (format(value, float_format) if math.isfinite(value) else str(value)), True
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=20, precision=4), False
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, default=str), False
        except (TypeError, ValueError):
            return repr(value), False
    return str(value), False


@dataclass
class ReportSection:
    """One report section: a heading and any of a leading note (``lead = (level, message)``), a key-value
    table, preformatted text, a data table (list of dicts), images (PNG bytes, embedded side by side) and
    notes (shown as warnings), rendered in that order."""

    title: str
    table: dict | None = None
    text: str | None = None
    images: list = field(default_factory=list)      # [(caption, png_bytes)]
    rows: list | None = None
    notes: list = field(default_factory=list)
    lead: tuple | None = None                       # (level, message): a note shown first, e.g. a verdict


@dataclass
class ReportContext:
    """What a part contributing to a run's report may read (the run folder ``out``, ``config``, ``data``,
    ``model``, ``trainer``, ``history``, ``summary``) and the ``sections`` and ``notes`` lists it appends to."""

    out: Path
    config: dict
    data: object = None
    model: object = None
    trainer: object = None
    history: object = None
    summary: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _flatten(mapping: dict, prefix: str = "") -> list[tuple[str, object]]:
    items = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            items.extend(_flatten(value, name + "."))
        else:
            items.append((name, value))
    return items


class Report:
    """An HTML report made of sections; every adding method returns the report, so calls chain.

    Content added before the first :meth:`section` goes in an untitled opening section.
    """

    def __init__(self, title: str, subtitle: str | None = None):
        self.title = str(title)
        self.subtitle = subtitle
        self._sections: list[tuple[str | None, list[str]]] = [(None, [])]

    # ---------------------------------------------------------------- building
    def _add(self, fragment: str) -> "Report":
        self._sections[-1][1].append(fragment)
        return self

    def section(self, heading: str) -> "Report":
        """Start a new section with an ``<h2>`` heading; later content goes into it."""
        self._sections.append((str(heading), []))
        return self

    def text(self, paragraph: str) -> "Report":
        """A paragraph of plain text (escaped; blank lines start new paragraphs)."""
        for part in str(paragraph).split("\n\n"):
            if part.strip():
                self._add(f"<p>{_esc(part.strip())}</p>")
        return self

    def pre(self, text: str, caption: str | None = None) -> "Report":
        """Preformatted text, e.g. a model summary or a traceback."""
        cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
        return self._add(f"<figure><pre>{_esc(text)}</pre>{cap}</figure>")

    def note(self, message: str, level: str = "info") -> "Report":
        """A highlighted note; ``level`` is one of 'info', 'success', 'warning', 'error'."""
        if level not in _LEVELS:
            raise ValueError(f"note level must be one of {_LEVELS}, got {level!r}")
        return self._add(f'<div class="note {level}"><strong>{level}:</strong> {_esc(message)}</div>')

    def kv(self, mapping: dict, caption: str | None = None, float_format: str = ".6g") -> "Report":
        """A two-column key → value table; nested dicts are flattened to dotted keys (``optim.lr``)."""
        if not hasattr(mapping, "items"):
            raise TypeError(f"kv needs a mapping, got {type(mapping).__name__}")
        rows = [f"<tr><th>{_esc(key)}</th>{_cell_html(value, float_format)}</tr>"
                for key, value in _flatten(dict(mapping))]
        cap = f"<div class=caption>{_esc(caption)}</div>" if caption else ""
        return self._add(f"{cap}<div class=scroll><table class=kv>{''.join(rows)}</table></div>")

    def table(self, rows, columns=None, caption: str | None = None, float_format: str = ".4g", *,
              headers: dict | None = None, highlight=(), row_headers: bool = False) -> "Report":
        """A data table from a list of dicts (one per row); ``columns`` picks and orders the columns
        (default: every key, in first-seen order). A missing cell shows as an empty cell.

        ``headers`` maps a column to the text shown for it (the column name becomes its tooltip);
        ``highlight`` holds the indices of rows to mark (class ``best``); ``row_headers`` renders the
        first column as ``<th>``. The table sits in a container that scrolls sideways when it is wider than
        the page (a phone), so it never widens the page itself."""
        rows = list(rows)
        if not all(isinstance(r, dict) for r in rows):
            raise TypeError("table needs a list of dicts (one per row)")
        if columns is None:
            columns = list(dict.fromkeys(k for r in rows for k in r))
        headers = dict(headers or {})
        marked = {int(i) for i in highlight}
        head = "".join(f'<th title="{_esc(c)}">{_esc(headers[c])}</th>' if c in headers and headers[c] != c
                       else f"<th>{_esc(c)}</th>" for c in columns)
        body = []
        for i, r in enumerate(rows):
            cells = []
            for j, c in enumerate(columns):
                tag = "th" if row_headers and j == 0 else "td"
                cells.append(_cell_html(r[c], float_format, tag) if c in r else f"<{tag}></{tag}>")
            body.append(f"<tr{' class=best' if i in marked else ''}>{''.join(cells)}</tr>")
        cap = f"<div class=caption>{_esc(caption)}</div>" if caption else ""
        return self._add(f"{cap}<div class=scroll><table><thead><tr>{head}</tr></thead>"
                         f"<tbody>{''.join(body)}</tbody></table></div>")

    def stats(self, items, lead: bool = False) -> "Report":
        """A row of figures at a glance: ``items`` are ``(label, text)`` or ``(label, text, hint)`` (the
        hint a tooltip); ``lead=True`` makes the first one the headline (larger, tinted)."""
        cards = []
        for i, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                raise TypeError(f"stats items are (label, text) or (label, text, hint) tuples, got {item!r}")
            label, text, hint = (*item, None)[:3]
            tip = f' title="{_esc(hint)}"' if hint else ""
            cards.append(f'<div class="stat{" lead" if lead and i == 0 else ""}"{tip}><div class=label>'
                         f'{_esc(label)}</div><div class=value>{_esc(text)}</div></div>')
        return self._add(f"<div class=stats>{''.join(cards)}</div>") if cards else self

    def gallery(self, images) -> "Report":
        """Several figures side by side (as many columns as fit, one on a phone): ``images`` are
        ``(caption, png)`` pairs, ``png`` as :meth:`image` takes it."""
        images = list(images)
        if not images:
            return self
        self._add("<div class=gallery>")
        for caption, png in images:
            self.image(png, caption=caption)
        return self._add("</div>")

    def image(self, png, caption: str | None = None, alt: str | None = None) -> "Report":
        """Embed a PNG given as bytes, a path to a PNG file, or a matplotlib Figure (base64 data URI)."""
        if isinstance(png, (str, os.PathLike)):
            png = Path(png).read_bytes()
        elif hasattr(png, "savefig"):
            from .plots import figure_to_png
            png = figure_to_png(png)
        if not isinstance(png, (bytes, bytearray, memoryview)):
            raise TypeError(f"image needs PNG bytes, a path or a Figure, got {type(png).__name__}")
        png = bytes(png)
        if not png.startswith(PNG_SIGNATURE):
            raise ValueError("image data is not a PNG (bad signature); pass PNG bytes, e.g. from "
                             "descend.io.plots.plot_loss(history)")
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        alt_text = alt if alt is not None else (caption or "figure")
        cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
        return self._add(f'<figure><img src="{uri}" alt="{_esc(alt_text)}">{cap}</figure>')

    def add(self, section: ReportSection) -> "Report":
        """Render a :class:`ReportSection`: its heading, lead note, table, text, data table, images and notes."""
        if not isinstance(section, ReportSection):
            raise TypeError(f"add needs a ReportSection, got {type(section).__name__}")
        self.section(section.title)
        if section.lead:
            self.note(section.lead[1], level=section.lead[0])
        if section.table:
            self.kv(section.table)
        if section.text:
            self.pre(section.text)
        if section.rows:
            self.table(section.rows)
        self.gallery(section.images)
        for note in section.notes:
            self.note(note, level="warning")
        return self

    def html(self, fragment: str) -> "Report":
        """Insert a raw, trusted HTML fragment (not escaped). It must not reference external resources."""
        return self._add(str(fragment))

    # ---------------------------------------------------------------- output
    def render(self) -> str:
        """The complete HTML document as a string."""
        titled = [(i, h) for i, (h, _) in enumerate(self._sections) if h is not None]
        parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                 '<meta name="viewport" content="width=device-width, initial-scale=1">',
                 f"<title>{_esc(self.title)}</title>", f"<style>{_CSS.strip()}</style>", "</head>", "<body>",
                 f"<header><h1>{_esc(self.title)}</h1>"]
        if self.subtitle:
            parts.append(f'<p class="subtitle">{_esc(self.subtitle)}</p>')
        parts.append("</header>")
        if len(titled) > 1:
            links = "".join(f'<li><a href="#s{i}">{_esc(h)}</a></li>' for i, h in titled)
            parts.append(f"<nav><ul>{links}</ul></nav>")
        for i, (heading, fragments) in enumerate(self._sections):
            if heading is None and not fragments:
                continue
            parts.append(f'<section id="s{i}">')
            if heading is not None:
                parts.append(f"<h2>{_esc(heading)}</h2>")
            parts.extend(fragments)
            parts.append("</section>")
        from .. import __version__
        parts += [f"<footer>Generated by descend {_esc(__version__)}</footer>", "</body>", "</html>"]
        return "\n".join(parts) + "\n"

    def save(self, path) -> Path:
        """Write the report to ``path`` atomically (UTF-8) and return the path."""
        return atomic_write_text(path, self.render())

    def __repr__(self):
        return f"Report({self.title!r}, sections={[h for h, _ in self._sections if h is not None]})"
