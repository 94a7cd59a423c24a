"""The Python/Rust boundary: zero-copy arrays, exception classes, and a light `import slmrec`."""

import subprocess
import sys

import numpy as np
import pytest

import slmrec


def _seq_file(path, rows):
    path.write_text("".join(" ".join(map(str, r)) + "\n" for r in rows))
    return path


def test_arrays_are_moved_from_rust_not_copied(tmp_path):
    src = _seq_file(tmp_path / "s.txt", [[1, 3, 4, 5], [2, 4, 5, 6, 7]])
    for ds in (slmrec.prepare(src, tmp_path / "ds", recipe="none"), slmrec.load(tmp_path / "ds")):
        for arr in (ds.offsets, ds.items, ds.timestamps, ds.ratings):
            assert not arr.flags.owndata
            assert type(arr.base).__name__ == "PySliceContainer"
        assert ds.offsets.dtype == np.int64 and ds.items.dtype == np.uint32
        assert ds.items.tolist() == [1, 2, 3, 2, 3, 4, 5]  # raw 3..7 renumbered 1..5 in numeric order
        assert ds.timestamps.tolist() == [0, 1, 2, 0, 1, 2, 3]
        assert np.isnan(ds.ratings).all()


def test_errors_map_to_the_documented_classes(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"reviewerID": "u", "asin": "a", "unixReviewTime": 1}\n{"reviewerID": }\n')
    with pytest.raises(slmrec.DataFormatError, match=r"bad\.json:2: invalid JSON"):
        slmrec.prepare(bad, tmp_path / "o", recipe="none")
    with pytest.raises(FileNotFoundError):
        slmrec.prepare(tmp_path / "missing.json", tmp_path / "o")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(slmrec.EmptyDatasetError):
        slmrec.prepare(tmp_path / "empty.json", tmp_path / "o")
    with pytest.raises(ValueError, match="unknown recipe"):
        slmrec.prepare(bad, tmp_path / "o", recipe="nope")
    assert issubclass(slmrec.DataFormatError, slmrec.SlmrecError)
    assert not (tmp_path / "o").exists()


def test_import_slmrec_does_not_import_torch():
    code = "import sys, slmrec, slmrec.data; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
