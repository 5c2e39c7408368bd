"""`bench models`: every zoo entry with its cost, measured by building it (GFLOPs as the engines execute them,
bench.peak.executed_gflops: the same count compare's rows carry)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.peak import executed_gflops
from mldrnet import models
from mldrnet.errors import BenchError
from mldrnet.models.stats import count_params, profile


@dataclass(frozen=True)
class ModelRow:
    name: str
    family: str
    params: int
    gflops: float | None  # None: not a network (hand-crafted features: numpy code, no FLOP count)
    output_shape: tuple[int, ...]
    paper_fi_accuracy: float | None
    description: str
    min_crop: int = 32  # px: the smallest input it runs at; below it gflops and output_shape are not measured

    def to_dict(self) -> dict:
        return asdict(self)


def model_rows(size: int = 375, names: list[str] | None = None) -> list[ModelRow]:
    rows = []
    for name in names or models.names():
        entry = models.info(name)
        if not entry.is_network:  # nothing to count before its classifier is fitted
            rows.append(
                ModelRow(
                    name, entry.family, 0, None, (1, 8), entry.paper_fi_accuracy, entry.description, entry.min_crop
                )
            )
            continue
        if size < entry.min_crop:  # it cannot run at this size: a row that says so, not a failed command
            rows.append(
                ModelRow(
                    name,
                    entry.family,
                    count_params(models.create(name)),
                    None,
                    (),
                    entry.paper_fi_accuracy,
                    entry.description,
                    entry.min_crop,
                )
            )
            continue
        try:
            model = models.create(name)
            p = profile(model, size)
            gflops = executed_gflops(model, size)
        except RuntimeError as e:  # e.g. AlexNet's 11x11 stride-4 stem and three pools need >= 63 px
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BenchError(f"{name} cannot run at {size} px: {first}") from e
        rows.append(
            ModelRow(
                name,
                entry.family,
                p.params,
                gflops,
                p.output_shape,
                entry.paper_fi_accuracy,
                entry.description,
                entry.min_crop,
            )
        )
    return rows
