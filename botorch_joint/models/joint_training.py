"""Training of the ensemble of :class:`~botorch_joint.models.joint.JointSurrogate`.

:meth:`JointSurrogate.fit <botorch_joint.models.joint.JointSurrogate.fit>` draws each
member's rows with :func:`member_rows` (a validation hold-out, hold-out folds, a
bootstrap resample) and trains every member at once with :func:`train_members`
(minibatch AdamW on :func:`member_loss`, early stopping per member on a hold-out). All
random draws come from torch's global generator, which ``fit`` seeds and restores.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["adamw", "member_loss", "member_rows", "train_members"]


def member_rows(
    ensemble_size: int, n: int, opts: dict[str, Any], device: torch.device
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Which training rows each member validates and trains on.

    Each member holds out its own random ``validation_fraction`` of the rows (none below
    5 rows), so together they see all the data. With ``holdout_folds`` (and no
    validation hold-out, at least two rows per member) member ``e`` leaves out the
    ``e``-th of ``E`` random folds instead. ``bootstrap`` resamples each member's
    training rows.

    Args:
        ensemble_size: number of members ``E``.
        n: number of training rows.
        opts: the training options (``validation_fraction``, ``holdout_folds``,
            ``bootstrap``).
        device: device of the index tensors.

    Returns:
        ``(val_idx, tr_idx, folds)``: ``(E, n_val)`` validation and ``(E, n_tr)``
        training row indices, and the ``(E, f)`` rows of each member's fold (``None``
        without folds).
    """
    E = ensemble_size
    n_val = int(round(opts["validation_fraction"] * n)) if n >= 5 else 0
    n_val = min(max(n_val, 1 if n >= 5 and opts["validation_fraction"] > 0 else 0), n - 1)
    # Each member holds out its own random rows, so together they see all the data.
    perm = torch.argsort(torch.rand(E, n, device=device), dim=1)
    val_idx, tr_idx = perm[:, :n_val], perm[:, n_val:]
    folds = None
    if opts["holdout_folds"] and n_val == 0 and n >= 2 * E:
        # Member e leaves out fold e (rows beyond E * f are in no fold): the
        # ensemble still sees every row, and each fold has an honest prediction.
        f, order = n // E, perm[0]
        folds = order[: E * f].reshape(E, f)
        tr_idx = torch.stack([torch.cat([order[: e * f], order[(e + 1) * f :]]) for e in range(E)])
    n_tr = tr_idx.shape[1]
    if opts["bootstrap"]:
        tr_idx = tr_idx.gather(1, torch.randint(0, n_tr, (E, n_tr), device=device))
    return val_idx, tr_idx, folds


def train_members(
    net: torch.nn.Module,
    X: Tensor,
    Y: Tensor,
    M: Tensor,
    L: Tensor | None,
    val_idx: Tensor,
    tr_idx: Tensor,
    opts: dict[str, Any],
    verbose: bool,
) -> int:
    """Train every member of ``net`` on its own rows (from :func:`member_rows`).

    With a validation hold-out, each member keeps its weights of the epoch with its
    best validation loss, and training ends when every member has gone ``patience``
    epochs without improving; without one it runs ``max_epochs``.

    Args:
        net: the ensemble network (``E`` members), in training mode.
        X: ``(n, d)`` normalised inputs.
        Y: ``(n, c)`` regression targets (standardised objectives, then values).
        M: ``(n, c)`` 1 where a target is known, else 0.
        L: ``(n, k)`` feasibility labels, or ``None`` without constraints.
        val_idx: ``(E, n_val)`` each member's validation rows.
        tr_idx: ``(E, n_tr)`` each member's training rows.
        opts: the training options (``batch_size``, ``lr``, ``weight_decay``,
            ``constraint_weight``, ``max_epochs``, ``patience``).
        verbose: print the validation loss every 10 epochs.

    Returns:
        The number of epochs run; ``net`` is left in eval mode.
    """
    E, n_tr, n_val, device = tr_idx.shape[0], tr_idx.shape[1], val_idx.shape[1], X.device
    B = opts["batch_size"] or max(32, math.ceil(n_tr / 8))
    B = max(1, min(int(B), n_tr))
    steps = max(1, n_tr // B)

    def rows(t: Tensor | None, idx: Tensor) -> Tensor | None:
        return None if t is None else t[idx]

    optimiser = adamw(net, opts["lr"], opts["weight_decay"])
    weight = opts["constraint_weight"]
    best = torch.full((E,), math.inf, device=device)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    wait = torch.zeros(E, dtype=torch.long, device=device)
    epoch = 0
    for epoch in range(1, opts["max_epochs"] + 1):
        order = tr_idx.gather(1, torch.argsort(torch.rand(E, n_tr, device=device), dim=1))
        for s in range(steps):
            idx = order[:, s * B : (s + 1) * B]
            loss = member_loss(net, X[idx], Y[idx], M[idx], rows(L, idx), weight).sum()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if n_val == 0:
            continue
        net.eval()
        with torch.no_grad():
            val = member_loss(
                net, X[val_idx], Y[val_idx], M[val_idx], rows(L, val_idx), weight, True
            )
        net.train()
        val = torch.where(torch.isfinite(val), val, torch.full_like(val, math.inf))
        improved = val < best
        best = torch.where(improved, val, best)
        wait = torch.where(improved, torch.zeros_like(wait), wait + 1)
        if improved.any():
            for name, value in net.state_dict().items():
                best_state[name][improved] = value[improved]
        if verbose and epoch % 10 == 0:
            print(f"epoch {epoch}: validation loss per member {val.tolist()}")
        if bool((wait >= opts["patience"]).all()):
            break
    if n_val:
        net.load_state_dict(best_state)
    net.eval()
    return epoch


def member_loss(
    net: torch.nn.Module,
    X: Tensor,
    Y: Tensor,
    mask: Tensor,
    labels: Tensor | None,
    weight: float,
    validation: bool = False,
) -> Tensor:
    """``(E,)`` loss of each member of ``net`` on its own ``(E, B, .)`` rows.

    Training uses MSE (standardised objectives) plus ``weight`` times BCE. The
    validation criterion replaces BCE by the Brier score: BCE grows without bound on
    a few confidently misclassified rows long before the regression head stops
    improving, which would end training early; the bounded Brier score does not.
    """
    reg, logits = net(X)
    sq = (reg - Y) ** 2 * mask
    loss = sq.sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp_min(1.0)
    if logits is not None and labels is not None:
        if validation:
            term = (torch.sigmoid(logits) - labels) ** 2
        else:
            term = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        loss = loss + weight * term.mean(dim=(1, 2))
    return loss


def adamw(net: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused (one kernel for all parameters) where this torch build supports it.

    The parameters are a few dozen stacked ensemble tensors; the per-tensor loop of the
    plain implementation costs as much as a forward pass of these small networks.
    """
    try:
        return torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
