"""DDP's collectives per step and the sharded validation, checked in one process with the collectives counted
(the 2-process run itself is tests/test_train.py's torchrun test): one all-reduce per training step (whether every
process has a batch), a non-finite loss stopping every process through the gradients DDP already averages, and
validation on every rank over disjoint shards."""

import pytest
import torch
from torch import nn

from mldrnet.training import loop
from mldrnet.training.distributed import DistContext


class Calls:
    def __init__(self):
        self.all_reduce, self.broadcast = 0, 0


@pytest.fixture
def collectives(monkeypatch):
    calls = Calls()

    def all_reduce(tensor, op=None):
        calls.all_reduce += 1

    def broadcast(tensor, src):
        calls.broadcast += 1

    monkeypatch.setattr(loop.dist, "all_reduce", all_reduce)
    monkeypatch.setattr(loop.dist, "broadcast", broadcast)
    return calls


def _batches(n, size=4, poison=None):
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        x = torch.randn(size, 3, 8, 8, generator=g)
        if i == poison:
            x[0, 0, 0, 0] = float("nan")
        yield x, torch.randint(0, 8, (size,), generator=g), 0


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 8))


def _cfg():
    from mldrnet.training.config import resolve

    return resolve("mldrnet", "quick", crop=40, batch_size=8, lr=0.01, workers=0, device="cpu")


def test_one_all_reduce_per_step(collectives):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ctx = DistContext(0, 2, torch.device("cpu"))
    stats = loop.train_one_epoch(model, list(_batches(5)), optimizer, torch.device("cpu"), _cfg(), None, ctx)
    assert stats["images"] == 20  # this process's (the fake all-reduce sums nothing)
    assert collectives.all_reduce == 5 + 1  # one per step (every process has a batch), one for the epoch's sums


def test_a_non_finite_loss_stops_every_process_through_the_gradients(collectives):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = [p.detach().clone() for p in model.parameters()]
    ctx = DistContext(0, 2, torch.device("cpu"))
    with pytest.raises(loop.Diverged, match="the training loss became nan here after 8 images"):
        loop.train_one_epoch(model, list(_batches(4, poison=2)), optimizer, torch.device("cpu"), _cfg(), None, ctx)
    assert collectives.all_reduce == 3  # no extra collective for the check
    after = list(model.parameters())
    steps_taken = [not torch.equal(a, b) for a, b in zip(before, after)]
    assert any(steps_taken)  # the two good steps were taken, the poisoned one was not applied:
    assert all(torch.isfinite(p).all() for p in after)
    model.zero_grad()
    model[-1].weight.grad = torch.full_like(model[-1].weight, float("inf"))  # another process's NaN, averaged in
    assert not loop._grads_finite(optimizer)


def test_validation_runs_on_every_rank_over_disjoint_shards(collectives):
    samples = [(f"img{i}.png", i % 8) for i in range(10)]
    shards = [loop._val_shard(samples, DistContext(r, 3, torch.device("cpu"))) for r in range(3)]
    assert sorted(sum(shards, [])) == sorted(samples) and [len(s) for s in shards] == [4, 3, 3]
    assert loop._val_shard(samples, DistContext(0, 1, torch.device("cpu"))) is samples
    model = _model().eval()
    loader = list(_batches(2))
    accuracy = loop._validation_accuracy(model, loader, torch.device("cpu"), DistContext(1, 2, torch.device("cpu")))
    assert 0 <= accuracy <= 1
    assert collectives.broadcast == len(list(model.buffers()))  # rank 0's batch-norm statistics, once per epoch
    assert collectives.all_reduce == 1  # the counts, summed once
