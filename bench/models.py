"""`bench models`: every zoo entry with its cost, measured by building it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mldrnet import zoo
from mldrnet.stats import profile


@dataclass(frozen=True)
class ModelRow:
    name: str
    family: str
    params: int
    gflops: float
    output_shape: tuple[int, ...]
    paper_fi_accuracy: float | None
    description: str

    def to_dict(self) -> dict:
        return asdict(self)


def model_rows(size: int = 375, names: list[str] | None = None) -> list[ModelRow]:
    rows = []
    for name in names or zoo.names():
        entry = zoo.info(name)
        p = profile(zoo.create(name), size)
        rows.append(ModelRow(name, entry.family, p.params, p.gflops, p.output_shape, entry.paper_fi_accuracy,
                             entry.description))
    return rows
