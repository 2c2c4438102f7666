"""Every Python code block of README.md and docs/user_guide.md runs as printed.

The blocks of one document run top to bottom in one namespace, as for a reader pasting
them into one Python session, in a temporary working directory. Only budgets shrink:
each document has a list of exact text substitutions, and every one must apply, so a
changed document cannot silently escape its shrinking (or run at full size).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

#: document -> (printed text, text run here): smaller budgets and searches only
SHRINK: dict[str, list[tuple[str, str]]] = {
    "README.md": [
        (
            'method="c+o-ftt", budget=200, batch_size=20,',
            'method="c+o-ftt", budget=8, batch_size=4,',
        ),
    ],
    "docs/user_guide.md": [
        ("    budget=200,              #", "    budget=8,                #"),
        ("    batch_size=20,           #", "    batch_size=4,            #"),
        ("budget=300, batch_size=30,", "budget=8, batch_size=4,"),
        ("budget=200, batch_size=20,", "budget=8, batch_size=4,"),
        ("num_restarts=10, raw_samples=256", "num_restarts=2, raw_samples=32"),
        ("joint_generation_strategy(batch_size=8)", "joint_generation_strategy(batch_size=4)"),
        ("for _ in range(10):", "for _ in range(3):"),
        ("get_next_trials(max_trials=8)", "get_next_trials(max_trials=4)"),
    ],
}  # fmt: skip


def blocks(document: str) -> list[str]:
    """The Python code blocks of ``document``, with its substitutions applied."""
    text = (ROOT / document).read_text()
    for printed, run in SHRINK[document]:
        assert printed in text, f"{document} no longer contains {printed!r}: update SHRINK"
        text = text.replace(printed, run)
    return BLOCK.findall(text)


def run_document(document: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__main__"}
    found = blocks(document)
    assert found, f"no python blocks in {document}"
    for i, source in enumerate(found):
        try:
            exec(compile(source, f"{document}, python block {i + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{document}, python block {i + 1} fails:\n{source}") from exc
    return namespace


def test_readme_runs_as_printed(tmp_path, monkeypatch, capsys):
    ns = run_document("README.md", tmp_path, monkeypatch)
    assert len(ns["result"]) == 8 and (tmp_path / "runs" / "hh" / "checkpoint.json").exists()
    # the Ax loop asks for 5 batches of 4 and gets all 20 trials
    assert "toy / ax: 20 evaluations" in capsys.readouterr().out


def test_user_guide_runs_as_printed(tmp_path, monkeypatch, capsys):
    ns = run_document("docs/user_guide.md", tmp_path, monkeypatch)
    assert (tmp_path / "hv.png").exists() and len(ns["result"]) == 8
    assert ns["X"].shape == (40, 2) and ns["candidates"].shape == (4, 2)
    assert len(ns["client"]._experiment.trials) == 12  # noqa: SLF001 - 2 design batches + 1
