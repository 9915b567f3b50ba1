"""The diagnostics notebook: in sync with its jupytext source, runs top to bottom in quick mode."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCE = NOTEBOOKS / "diagnostics.py"
NOTEBOOK = NOTEBOOKS / "diagnostics.ipynb"
KERNEL = "forecast-test"
MIN_FIGURES = 6


def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def figures(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def printed_text(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stdout"
    )


def test_notebook_matches_its_jupytext_source_and_stores_no_outputs():
    stored = nbformat.read(NOTEBOOK, as_version=4)
    assert cells(stored) == cells(jupytext.read(SOURCE))
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_notebook_runs_top_to_bottom_in_quick_mode(tmp_path):
    # A kernel on this interpreter (the venv's), whatever `python` is on the PATH.
    write_kernel_spec(tmp_path / "kernels" / KERNEL)
    manager = KernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
    )
    env = {
        **os.environ,
        "FORECAST_NOTEBOOK_QUICK": "1",
        "FORECAST_RUNS_DIR": str(tmp_path / "runs"),
        # An empty checks folder: every expensive check is computed (or left) in quick mode,
        # whatever the developer's var/checks/ holds.
        "FORECAST_CHECKS_DIR": str(tmp_path / "checks"),
        "MPLBACKEND": "Agg",
        # A quick-mode fit goes to a scratch folder (never the runs folder): keep it here.
        "TMPDIR": str(tmp_path),
    }
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=env)  # a failing cell raises CellExecutionError
    assert manager.kernel_spec.argv[0] == sys.executable
    assert figures(notebook) >= MIN_FIGURES
    # Each expensive section says which result it shows: none was stored, so computed now
    # (the campaign checks) or left to the test suite (the per-ally ones).
    printed = printed_text(notebook)
    nothing = f"nothing stored in {tmp_path / 'checks'}"
    for name in ("campaign_recovery", "campaign_backtest"):
        assert f"{name}: computed now with quick settings" in printed
    for name in ("ally_recovery", "timing_forms"):
        assert f"{name}: not computed here ({nothing}" in printed
