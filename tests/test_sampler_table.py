"""The sampler and batch builders from any table of raw ids (issue 19): from_frame / from_dataset, IdMap, and the
README's "use the sampler in your project" block, executed as written."""

import importlib
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from slmrec.sampling import IdMap, LastItemBatches, NegativeSampler, SequenceBatches, eval_candidates_for

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
        assert list(s.to_raw_items(items[offsets[row] : offsets[row + 1]])) == mine["i"].to_list()
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
    assert (
        negs == NegativeSampler(ds.offsets, ds.items, ds.num_items, seed=1).sample(np.arange(ds.num_users), 3)
    ).all()
    b = LastItemBatches.from_dataset(ds, batch_size=16)
    assert b.ids.items.tolist() == items["item"].to_list()


@pytest.mark.parametrize("module", ["pandas", "pyarrow"])
def test_pandas_and_arrow_tables(module, tmp_path):
    mod = importlib.import_module(module)  # both are in the dev extra: a missing one fails here, not a skip
    data = {"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "y", "z"]}
    table = mod.DataFrame(data) if module == "pandas" else mod.table(data)
    s = NegativeSampler.from_frame(table)
    assert s.to_raw_items(s.sample(s.rows(["a", "b"]), 1)).tolist() == [["z"], ["x"]]
    # the same table as polars, with a time column and integer ids, gives the same sampler
    df = _frame(seed=3).with_columns(pl.col("u").str.slice(5).cast(pl.Int64))
    other = df.to_pandas() if module == "pandas" else df.to_arrow()
    a = NegativeSampler.from_frame(df, user="u", item="i", time="t", seed=1)
    b = NegativeSampler.from_frame(other, user="u", item="i", time="t", seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a._args, b._args))
    assert (a.ids.users == b.ids.users).all() and (a.ids.items == b.ids.items).all()
    assert (eval_candidates_for(b, "test", n=5, directory=tmp_path)[1] == eval_candidates_for(a, "test", n=5)[1]).all()
    missing = df.with_columns(pl.when(pl.col("t") == df["t"][4]).then(None).otherwise(pl.col("i")).alias("i"))
    missing = missing.to_pandas() if module == "pandas" else missing.to_arrow()
    with pytest.raises(ValueError, match=r"^item column 'i' has \d+ missing values \(the first in row 4\)$"):
        NegativeSampler.from_frame(missing, user="u", item="i")


def test_idmap_repr_and_shapes():
    m = IdMap(np.array(["b", "a"]), np.array([10, 20, 30]))
    assert repr(m) == "IdMap(users=2, items=3)"
    assert m.rows([["a", "b"]]).tolist() == [[1, 0]] and m.item_ids([[30]]).tolist() == [[3]]


def test_eval_candidates_for_a_sampler_from_a_frame(tmp_path):
    df = _frame(n_users=60, n_items=40, seed=2)
    s = NegativeSampler.from_frame(df, user="u", item="i", time="t", seed=4)
    offsets, items, _ = s._args
    # no directory: computed, nothing written; the sampler's seed is the default
    users, cands = eval_candidates_for(s, "test", n=20)
    assert (users == np.flatnonzero(np.diff(offsets) >= 3)).all() and cands.shape == (len(users), 21)
    assert (eval_candidates_for(s, "test", n=20, seed=4)[1] == cands).all()
    assert (eval_candidates_for(s, "test", n=20, seed=5)[1] != cands).any()
    assert list(tmp_path.iterdir()) == []
    # in raw ids: column 0 is each user's last item by time, the negatives are outside its history
    raw_users, raw = s.to_raw_users(users), s.to_raw_items(cands)
    for user, row in zip(raw_users, raw):
        mine = df.with_row_index().filter(pl.col("u") == user).sort(["t", "index"])["i"].to_list()
        assert row[0] == mine[-1] and not set(row[1:]) & set(mine) and len(set(row[1:])) == 20
    # persisted to the directory the caller gives (created when missing), then re-used as it is
    home = tmp_path / "cache" / "here"
    assert (eval_candidates_for(s, "test", n=20, directory=home)[1] == cands).all()
    path = home / "candidates_test_seed4_n20.npy"
    assert path.exists() and (home / "candidates_test_seed4_n20.npy.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (eval_candidates_for(s, "test", n=20, directory=home)[1] == cands).all()
    # the same candidates as the same CSR given as arrays (the file is bound to the CSR's content, not the object)
    plain = NegativeSampler(*s._args, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (eval_candidates_for(plain, "test", n=20, directory=home)[1] == cands).all()
    # batch builders are sources too (their CSR and seed)
    b = SequenceBatches.from_frame(df, user="u", item="i", time="t", seed=4)
    assert (eval_candidates_for(b, "test", n=20, directory=home)[1] == cands).all()
    # another table in the same directory: the binding does not match, so it is rebuilt with a warning
    other = NegativeSampler.from_frame(df.head(df.height - 5), user="u", item="i", time="t", seed=4)
    with pytest.warns(RuntimeWarning, match="fingerprint .*does not match; rebuilding it"):
        ou, oc = eval_candidates_for(other, "test", n=20, directory=home)
    assert (oc == eval_candidates_for(other, "test", n=20)[1]).all()
    with pytest.raises(ValueError, match=r"for the valid split of this NegativeSampler; pass n <= \d+"):
        eval_candidates_for(s, "valid", n=39)


def test_eval_candidates_for_a_dataset_and_its_arrays_agree(tmp_path):
    import slmrec
    from slmrec.synth import generate_reviews

    generate_reviews(tmp_path / "raw.json.gz", n_users=200, seed=0)
    ds = slmrec.prepare(tmp_path / "raw.json.gz", tmp_path / "data")
    users, cands = eval_candidates_for(ds, "valid", n=20)
    assert (ds.path / "candidates_valid_seed0_n20.npy").exists()
    s = NegativeSampler.from_dataset(ds, seed=0)
    su, sc = eval_candidates_for(s, "valid", n=20, directory=tmp_path / "elsewhere")
    assert (su == users).all() and (sc == cands).all()
    assert (tmp_path / "elsewhere" / "candidates_valid_seed0_n20.npy").exists()
    # and a Dataset's candidates can go to another directory, leaving the dataset's alone
    before = sorted(p.name for p in ds.path.iterdir())
    assert (
        eval_candidates_for(ds, "test", n=20, directory=tmp_path / "mine")[1] == eval_candidates_for(s, "test", n=20)[1]
    ).all()
    assert sorted(p.name for p in ds.path.iterdir()) == before
    assert (tmp_path / "mine" / "candidates_test_seed0_n20.npy").exists()
