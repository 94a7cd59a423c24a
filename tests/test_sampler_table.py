"""The sampler and batch builders from any table of raw ids (issue 19): from_frame / from_dataset, IdMap, and the
README's "use the sampler in your project" block, executed as written."""

import pickle
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from slmrec.sampling import IdMap, LastItemBatches, NegativeSampler, SequenceBatches

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_sampler_example_runs_as_written():
    text = README.read_text()
    section = text.split("### Use the sampler in your project", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "from_frame" in code and "to_raw_items" in code
    exec(compile(code, "README.md", "exec"), {})


def _frame(n_users=40, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for _ in range(rng.integers(3, 9)):
            rows.append((f"user-{u:03d}", f"item-{rng.integers(n_items):02d}", int(rng.integers(0, 100))))
    users, items, ts = zip(*rows)
    return pl.DataFrame({"u": users, "i": items, "t": ts}).sample(fraction=1.0, shuffle=True, seed=seed)


def test_from_a_polars_frame_with_string_ids():
    df = _frame()
    s = NegativeSampler.from_frame(df, user="u", item="i", time="t", seed=3)
    offsets, items, num_items = s._args
    assert offsets.dtype == np.int64 and offsets[0] == 0 and offsets[-1] == df.height
    assert s.num_users == df["u"].n_unique() and num_items == df["i"].n_unique()
    assert list(s.ids.users) == sorted(df["u"].unique()) and list(s.ids.items) == sorted(df["i"].unique())
    for row, raw in enumerate(s.ids.users):  # each row: the user's items, by time (stable among equal times)
        mine = df.with_row_index().filter(pl.col("u") == raw).sort(["t", "index"])
        assert list(s.to_raw_items(items[offsets[row]:offsets[row + 1]])) == mine["i"].to_list()
    rows = s.rows(s.ids.users)
    assert rows.tolist() == list(range(s.num_users))
    negs = s.to_raw_items(s.sample(rows, 5, epoch=1))
    for raw, row_negs in zip(s.ids.users, negs):
        history = set(df.filter(pl.col("u") == raw)["i"])
        assert not history & set(row_negs) and len(set(row_negs)) == 5
    assert (s.item_ids(s.ids.items) == np.arange(1, num_items + 1)).all()
    again = pickle.loads(pickle.dumps(s))
    assert (again.to_raw_items(again.sample(rows, 5, epoch=1)) == negs).all()


def test_integer_ids_table_order_and_dicts_of_columns():
    table = {"user_id": [70, 70, 70, 5, 5, 5], "item_id": [900, 12, 33, 12, 33, 4]}
    s = NegativeSampler.from_frame(table)
    assert s.ids.users.tolist() == [5, 70] and s.ids.items.tolist() == [4, 12, 33, 900]
    offsets, items, _ = s._args
    assert offsets.tolist() == [0, 3, 6] and s.to_raw_items(items).tolist() == [12, 33, 4, 900, 12, 33]
    assert s.to_raw_items(s.sample(s.rows([70, 5]), 1)).tolist() == [[4], [900]]
    padded = s.to_raw_items(np.array([[0, 1]]), pad=-1)
    assert padded.tolist() == [[-1, 4]]


def test_batches_from_a_frame_and_back_to_raw_ids():
    df = _frame(seed=1)
    b = SequenceBatches.from_frame(df, user="u", item="i", time="t", max_len=5, batch_size=8, num_negatives=2)
    direct = SequenceBatches(*b._args, max_len=5, batch_size=8, num_negatives=2)
    for got, want in zip(b.epoch(0), direct.epoch(0)):
        assert all((got[k] == want[k]).all() for k in want)
    lb = LastItemBatches.from_frame(df, user="u", item="i", time="t", max_len=4, batch_size=100)
    batch = next(iter(lb.epoch(0)))
    assert sorted(lb.to_raw_users(batch["users"])) == sorted(df["u"].unique())
    raw = lb.to_raw_items(batch["input_ids"])
    assert (batch["input_ids"] == 0).any()  # users of 3 items have an all-padding input
    assert [x is None for x in raw.ravel()] == (batch["input_ids"] == 0).ravel().tolist()
    assert {x for x in raw.ravel() if x is not None} <= set(df["i"])


def test_bad_tables_and_unknown_ids_are_one_clear_error():
    df = pl.DataFrame({"u": ["a", "a", None], "i": ["x", "y", "z"]})
    with pytest.raises(ValueError, match=r"^no item column 'item_id'; the table has 'u', 'i'$"):
        NegativeSampler.from_frame(df.drop_nulls(), user="u")
    with pytest.raises(ValueError, match=r"^user column 'u' has 1 missing values \(the first in row 2\)$"):
        NegativeSampler.from_frame(df, user="u", item="i")
    s = NegativeSampler.from_frame(df.drop_nulls(), user="u", item="i")
    with pytest.raises(KeyError, match="unknown user id 'zed'"):
        s.rows(["a", "zed"])
    with pytest.raises(KeyError, match="unknown item id 'q'"):
        s.item_ids(["q"])
    with pytest.raises(ValueError, match="item ids must be in 0..2"):
        s.to_raw_items([3])
    plain = NegativeSampler(*s._args)
    with pytest.raises(ValueError, match="built from arrays: it has no raw ids"):
        plain.to_raw_items([1])


def test_from_a_dataset(tmp_path):
    import slmrec
    from slmrec.synth import generate_reviews

    generate_reviews(tmp_path / "raw.json.gz", n_users=200, seed=0)
    ds = slmrec.prepare(tmp_path / "raw.json.gz", tmp_path / "data")
    s = NegativeSampler.from_dataset(ds, seed=1)
    users, items = ds.user_table().sort("user_id"), ds.item_table().sort("item_id")
    assert s.to_raw_users([0, ds.num_users - 1]).tolist() == [users["user"][0], users["user"][-1]]
    assert s.to_raw_items([1, ds.num_items]).tolist() == [items["item"][0], items["item"][-1]]
    assert s.rows(users["user"].to_list()).tolist() == list(range(ds.num_users))
    negs = s.sample(np.arange(ds.num_users), 3)
    assert (negs == NegativeSampler(ds.offsets, ds.items, ds.num_items, seed=1).sample(np.arange(ds.num_users), 3)).all()
    b = LastItemBatches.from_dataset(ds, batch_size=16)
    assert b.ids.items.tolist() == items["item"].to_list()


@pytest.mark.parametrize("module", ["pandas", "pyarrow"])
def test_pandas_and_arrow_tables(module):
    mod = pytest.importorskip(module)
    data = {"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "y", "z"]}
    table = mod.DataFrame(data) if module == "pandas" else mod.table(data)
    s = NegativeSampler.from_frame(table)
    assert s.to_raw_items(s.sample(s.rows(["a", "b"]), 1)).tolist() == [["z"], ["x"]]


def test_idmap_repr_and_shapes():
    m = IdMap(np.array(["b", "a"]), np.array([10, 20, 30]))
    assert repr(m) == "IdMap(users=2, items=3)"
    assert m.rows([["a", "b"]]).tolist() == [[1, 0]] and m.item_ids([[30]]).tolist() == [[3]]
