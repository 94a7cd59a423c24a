"""The pipeline's stages, declared once: their names, order, what each reads, and how reports call them.

Design: every module that knows a stage by name (the config's ``run.stages``, the pipeline, the CLI's upstream and
``--reuse`` checks, the per-run report, the results report) reads this table instead of listing names itself, so
a stage is added or renamed in one place. Importing it is free (no torch). A label may name the depth of the
model with ``{teacher_layers}`` / ``{student_layers}``, filled from the run's own config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageSpec:
    name: str
    label: str  # how a report names the model ({teacher_layers}/{student_layers} from the run's llm config)
    short: str  # the label in a tight table
    needs: tuple[str, ...]  # the earlier stages whose outputs it reads
    llm: bool  # builds on the LLM backbone
    model: bool  # trains a model with the training loop (the probe scores an existing one)
    keys: tuple[str, ...] = ()  # config keys (dotted prefixes) its result depends on
    reusable: bool = False  # ``--reuse`` may copy its finished output into a run whose ``keys`` are all equal


_SASREC_KEYS = ("data.", "sasrec.", "eval.", "run.seed", "run.mixed_precision")

SPECS = (
    StageSpec("sasrec", "SASRec", "SASRec", (), llm=False, model=True, keys=_SASREC_KEYS, reusable=True),
    StageSpec(
        "teacher",
        "teacher ({teacher_layers} layers)",
        "teacher",
        ("sasrec",),
        llm=True,
        model=True,
        keys=(*_SASREC_KEYS, "llm.", "teacher."),
        reusable=True,
    ),
    StageSpec(
        "student",
        "SLMRec student ({student_layers} layers, KD)",
        "student (KD)",
        ("sasrec", "teacher"),
        llm=True,
        model=True,
        keys=(*_SASREC_KEYS, "llm.", "teacher.", "student.", "distill."),
    ),
    StageSpec(
        "student_nokd",
        "student without KD ({student_layers} layers)",
        "student, no KD",
        ("sasrec",),
        llm=True,
        model=True,
        keys=(*_SASREC_KEYS, "llm.", "student."),
    ),
    StageSpec("probe", "layer probe", "probe", ("sasrec", "teacher"), llm=True, model=False),
)
STAGES = {s.name: s for s in SPECS}
ORDER = tuple(STAGES)  # the order a run takes them in
MODEL_STAGES = tuple(s.name for s in SPECS if s.model)
LLM_STAGES = tuple(s.name for s in SPECS if s.llm and s.model)


def label(name: str, llm_config: dict | None = None, short: bool = False) -> str:
    """The report label of stage ``name``, with the depths of ``llm_config`` (a run's ``config.json["llm"]``)."""
    spec = STAGES[name]
    text = spec.short if short else spec.label
    llm = llm_config or {}
    return text.format(teacher_layers=llm.get("teacher_layers", "M"), student_layers=llm.get("student_layers", "N"))
