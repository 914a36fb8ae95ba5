"""The README's Python examples run as written and learn what they claim."""

import os
import re

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def test_readme_python_examples_run_and_learn(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the tour saves a checkpoint in the working directory
    with open(README, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert len(blocks) >= 3
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["accuracy"] > 0.85                      # the hand-written loop's held-out accuracy
    assert namespace["history"].val_accuracy[-1] > 0.9       # the Trainer's validation accuracy
    assert os.path.getsize(tmp_path / "digits.safetensors") > 0
    assert namespace["sequence_accuracy"] > 0.9               # the PyTorch-style LSTM program learns
