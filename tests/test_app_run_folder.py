"""The run folder's history.csv goes through the one writer/reader of descend.io.records, with epochs counted
from 1; report sections come from the parts that own them (ReportSection in descend.io)."""

import math

from descend.app.report import collect_sections
from descend.app.run_folder import HISTORY_FILE, history_rows, read_history, write_history
from descend.io import Report, ReportContext, ReportSection, as_columns, read_history_csv, write_history_csv
from descend.train.history import History


def test_history_csv_counts_epochs_from_one_through_the_io_writer(tmp_path):
    h = History()
    h.append(0, {"loss": 0.9, "val_loss": 1.0})
    h.append(1, {"loss": 0.4, "val_loss": float("nan")})
    path = write_history(h, tmp_path / HISTORY_FILE)
    rows = read_history(tmp_path)
    assert rows[0] == read_history_csv(path)[0] == {"epoch": 1, "loss": 0.9, "val_loss": 1.0}
    assert [r["epoch"] for r in rows] == [1, 2] and rows[0]["loss"] == 0.9 and math.isnan(rows[1]["val_loss"])
    assert path.read_text().splitlines()[0] == "epoch,loss,val_loss"
    assert [r["epoch"] for r in history_rows(h)] == [1, 2] and h.epochs == [0, 1]   # the History is unchanged


def test_as_columns_inverts_rows_and_fills_missing_cells_with_none(tmp_path):
    path = write_history_csv([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25, "lr": 0.1}], tmp_path / "h.csv")
    assert as_columns(read_history_csv(path)) == {"epoch": [1, 2], "loss": [0.5, 0.25], "lr": [None, 0.1]}
    assert as_columns({"a": [1, 2]}) == {"a": [1, 2]}
    assert as_columns([]) == {}


class _Part:
    def report_sections(self, ctx):
        ctx.sections.append(ReportSection("Mine", table={"epochs": len(ctx.history)}, notes=["look here"]))
        ctx.notes.append("from a part")


def test_parts_with_report_sections_contribute_and_report_add_renders_them(tmp_path):
    ctx = ReportContext(out=tmp_path, config={}, history=[1, 2, 3])
    collect_sections(ctx, [_Part(), object()])
    assert [s.title for s in ctx.sections] == ["Mine"] and ctx.notes == ["from a part"]
    html = Report("t").add(ctx.sections[0]).render()
    assert "<h2>Mine</h2>" in html and "<th>epochs</th><td class=num>3</td>" in html
    assert '<div class="note warning"><strong>warning:</strong> look here</div>' in html
