"""The shipped type stubs of the Rust extension match it (mypy's stubtest, as pydantic-core does)."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_core_stubs_match_the_extension():
    pytest.importorskip("mypy.stubtest")
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "slmrec._core"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_array_in_the_stub_names_its_dtype():
    """issue 19: ``npt.NDArray[np.int64]``, never a bare ``np.ndarray`` or ``NDArray[Any]``."""
    import re
    from pathlib import Path

    import slmrec

    stub = (Path(slmrec.__file__).parent / "_core.pyi").read_text()
    assert "np.ndarray" not in stub and "NDArray[Any]" not in stub
    assert re.findall(r"NDArray\b(?!\[np\.(?:int64|uint32|float32|float64|bool_)\])", stub) == []
    assert stub.count("NDArray[") >= 5
