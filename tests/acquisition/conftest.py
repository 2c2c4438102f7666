"""Fixtures for the acquisition tests."""

from __future__ import annotations

import pytest
from acq_models import DiscModel


@pytest.fixture
def disc_model() -> DiscModel:
    return DiscModel()


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: thread start-up and contention on a shared CPU cost more than they save.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
