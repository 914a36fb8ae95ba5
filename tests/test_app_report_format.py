"""The report's words and numbers: labels, units and precision of summary.json keys (descend.app.report_format),
the run report's metric table and header, and the tuning report's column names."""

import math

import pytest

from descend.app.report import _glance, _metric_rows, task_title
from descend.app.report_format import (format_duration, format_metric, format_number, headline_key, loss_name,
                                       lr_statement, metric_label, split_key)
from descend.tune.report import short_names
from descend.train.history import History


@pytest.mark.parametrize("key, label", [
    ("test_accuracy", "Test accuracy"), ("val_loss", "Validation loss"), ("train_loss", "Training loss"),
    ("test_r2", "Test R²"), ("val_mae", "Validation mean absolute error"),
    ("test_bits_per_char", "Test bits per character"), ("wall_time_s", "Wall time"),
    ("train_time_s", "Training time"), ("train_samples", "Training samples"), ("stopped_early", "Stopped early"),
    ("parameters", "Parameters"), ("val_f1_macro", "Validation f1 macro"), ("custom_thing", "Custom thing")])
def test_metric_labels_name_the_split_and_the_metric_in_words(key, label):
    assert metric_label(key) == label


def test_split_key_separates_the_split_prefix_and_keeps_other_keys_whole():
    assert split_key("val_accuracy") == ("val", "accuracy")
    assert split_key("test_bits_per_char") == ("test", "bits_per_char")
    assert split_key("train_samples") == (None, "train_samples") and split_key("train_time_s") == (None, "train_time_s")
    assert split_key("accuracy") == (None, "accuracy")
    with pytest.raises(TypeError, match="string like 'val_loss'"):
        split_key(3)


@pytest.mark.parametrize("key, value, task, text", [
    ("test_accuracy", 0.9303621169916435, "classification", "93.04 %"),
    ("val_accuracy", 1.0, "classification", "100.00 %"),
    ("test_loss", 0.3515918459898914, "classification", "0.3516"),
    ("val_loss", 3.547658085823059, "language-model", "3.548 nats/char"),
    ("test_bits_per_char", 5.178560598371437, "language-model", "5.179 bits/char"),
    ("test_r2", 0.758151221576651, "regression", "0.758"),
    ("test_mae", 0.30846897594979966, "regression", "0.3085"),
    ("wall_time_s", 3.325, None, "3.3 s"), ("wall_time_s", 125.4, None, "2 min 05 s"),
    ("train_time_s", 3725.0, None, "1 h 02 min"),
    ("parameters", 15013, None, "15,013"), ("train_samples", 1258, None, "1,258"), ("epochs", 4, None, "4"),
    ("stopped_early", False, None, "no"), ("interrupted", True, None, "yes"), ("val_mae", None, None, "—"),
    ("train_loss", float("nan"), "classification", "NaN"), ("train_loss", float("inf"), None, "∞"),
    ("data", "digits", None, "digits")])
def test_values_get_units_and_a_sensible_precision(key, value, task, text):
    assert format_metric(key, value, task) == text


def test_no_python_literal_reaches_the_page():
    shown = [format_metric(k, v) for k, v in (("stopped_early", False), ("interrupted", True), ("val_loss", None),
                                                ("diverged", False))]
    assert not {"False", "True", "None"} & set(shown)


def test_per_character_units_can_be_left_to_the_row_label():
    assert format_metric("val_loss", 3.5477, "language-model", unit=False) == "3.548"
    assert format_metric("test_bits_per_char", 5.1786, "language-model", unit=False) == "5.179"
    assert format_metric("test_accuracy", 0.5, unit=False) == "50.00 %"      # the % is short: it stays


@pytest.mark.parametrize("x, text", [(0.351592, "0.3516"), (12.3456, "12.35"), (123456.7, "123,457"),
                                     (0.001, "0.001000"), (1.2345e-5, "1.234e-5"), (2.5e7, "2.500e7"),
                                     (-0.5, "-0.5000"), (0, "0")])
def test_format_number_keeps_four_significant_digits(x, text):
    assert format_number(x) == text


def test_format_number_and_duration_reject_bad_values():
    with pytest.raises(ValueError, match="positive integer"):
        format_number(1.0, digits=0)
    with pytest.raises(TypeError, match="real number"):
        format_number("1.0")
    with pytest.raises(ValueError, match="seconds >= 0"):
        format_duration(-1)
    assert format_duration(59.94) == "59.9 s" and format_duration(60) == "1 min 00 s"


def test_loss_names_follow_the_task():
    assert loss_name("classification") == "cross-entropy" and loss_name("language-model") == "cross-entropy"
    assert loss_name("regression") == "mean squared error" and loss_name("anything") == "loss"
    assert task_title("language-model") == "Character-level language model"
    assert task_title("classification", "gru") == "Sequence classification"
    assert task_title("classification", "cnn") == "Classification" and task_title("regression") == "Regression"


def test_headline_is_the_test_metric_of_the_task_falling_back_to_validation():
    assert headline_key({"task": "classification", "val_accuracy": 0.9, "test_accuracy": 0.93}) == "test_accuracy"
    assert headline_key({"task": "classification", "val_accuracy": 0.9, "val_loss": 0.2}) == "val_accuracy"
    assert headline_key({"task": "regression", "test_mae": 0.3, "test_r2": 0.76}) == "test_r2"
    assert headline_key({"task": "language-model", "test_loss": 3.6, "test_bits_per_char": 5.2}) == "test_bits_per_char"
    assert headline_key({"task": "classification", "train_loss": 0.4}) == "train_loss"    # interrupted early
    assert headline_key({"task": "classification"}) is None


def test_constant_learning_rate_becomes_a_sentence_and_a_schedule_does_not():
    assert lr_statement([0.001] * 5) == "Learning rate 0.001 throughout (constant: no schedule)."
    assert lr_statement([3e-5, 3e-5]) == "Learning rate 3e-5 throughout (constant: no schedule)."
    assert lr_statement([0.003, 0.0015]) is None
    assert lr_statement([]) is None


def _summary_lm():
    return {"task": "language-model", "data": "sequence", "epochs": 2, "train_loss": 3.754, "val_loss": 3.548,
            "test_loss": 3.590, "train_bits_per_char": 3.754 / math.log(2), "val_bits_per_char": 3.548 / math.log(2),
            "test_bits_per_char": 3.590 / math.log(2), "wall_time_s": 2.0, "train_time_s": 1.9,
            "parameters": 15013, "train_samples": 453, "interrupted": False, "stopped_early": False}


def test_metric_table_has_one_row_per_metric_and_one_column_per_split():
    h = History()
    h.append(0, {"loss": 1.0, "accuracy": 0.5})
    h.append(1, {"loss": 0.4, "accuracy": 0.9197})
    s = {"task": "classification", "train_loss": 0.4136, "val_loss": 0.4251, "val_accuracy": 0.9056,
         "test_loss": 0.3516, "test_accuracy": 0.9304, "train_samples": 1258, "train_time_s": 1.7}
    rows = _metric_rows(s, h, "classification")
    assert [r["metric"] for r in rows] == ["Loss (cross-entropy)", "Accuracy"]
    assert {k: c.text for k, c in rows[1].items() if k != "metric"} == {
        "Training": "91.97 %", "Validation": "90.56 %", "Test": "93.04 %"}
    assert rows[1]["Test"].hint == "test_accuracy" and "last epoch" in rows[1]["Training"].hint
    lm = _metric_rows(_summary_lm(), None, "language-model")
    assert [r["metric"] for r in lm] == ["Loss (cross-entropy, nats/char)", "Bits per character"]
    assert lm[1]["Test"].text == "5.179" and lm[0]["Validation"].text == "3.548"


def test_header_leads_with_the_headline_and_shows_nats_and_bits():
    glance = _glance(_summary_lm(), "language-model")
    assert glance[0] == ("Test bits per character", "5.179 bits/char", "test_bits_per_char")
    assert ("Test loss", "3.590 nats/char", "test_loss") in glance and glance[-1] == ("Epochs", "2", "epochs")


def test_tuning_columns_are_the_last_part_of_a_key_unless_two_share_it():
    assert short_names(["optimizer.lr", "model.hidden", "model.dropout"]) == {
        "optimizer.lr": "lr", "model.hidden": "hidden", "model.dropout": "dropout"}
    assert short_names(["model.dropout", "data.dropout", "seed"]) == {
        "model.dropout": "model.dropout", "data.dropout": "data.dropout", "seed": "seed"}
