"""Ensemble network backbones for the joint surrogate.

Every layer here holds the weights of *all* ensemble members in one tensor with a
leading member dimension ``E``, so a deep ensemble trains and predicts in a single
vectorised pass (one batched matrix multiply per layer) instead of a Python loop over
members. Activations carry the member dimension first: ``(E, N, features)``. Members
may see different rows (``(E, N, d)`` inputs, e.g. per-member minibatches) or the same
rows expanded along ``E``.

Two backbones are provided, both after Gorishniy et al. (2021), "Revisiting deep
learning models for tabular data":

* :class:`EnsembleResNet`: residual MLP blocks ``x + Dropout(Lin(Drop(ReLU(Lin(Norm(x))))))``;
* :class:`EnsembleFTTransformer`: a per-feature tokenizer (one learned embedding per
  input feature), a CLS token and pre-norm transformer blocks with gated (SwiGLU by
  default) feed-forward layers; the representation is the final CLS token.

:class:`EnsembleJointNetwork` puts a linear regression head (``m`` outputs) and a linear
classification head (``k`` logits) on the shared representation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "silu": F.silu,
    "gelu": F.gelu,
}


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; use one of {sorted(_ACTIVATIONS)}"
        ) from None


class EnsembleLinear(nn.Module):
    """``E`` independent affine maps applied with one batched matrix multiply.

    Args:
        ensemble_size: number of members ``E``.
        in_features: input width.
        out_features: output width.
    """

    def __init__(self, ensemble_size: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(ensemble_size, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The same scale as torch.nn.Linear's default, drawn independently per member.
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(E, *, in)`` to ``(E, *, out)``."""
        shape = x.shape
        flat = x.reshape(shape[0], -1, shape[-1])
        out = torch.baddbmm(self.bias.unsqueeze(1), flat, self.weight)
        return out.reshape(*shape[:-1], self.out_features)


class EnsembleLayerNorm(nn.Module):
    """Layer normalisation over the last dimension with a per-member affine map.

    Args:
        ensemble_size: number of members ``E``.
        features: normalised width.
    """

    def __init__(self, ensemble_size: int, features: int) -> None:
        super().__init__()
        self.features = features
        self.weight = nn.Parameter(torch.ones(ensemble_size, features))
        self.bias = nn.Parameter(torch.zeros(ensemble_size, features))

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``(E, *, features)``."""
        y = F.layer_norm(x, (self.features,))
        view = (x.shape[0],) + (1,) * (x.dim() - 2) + (self.features,)
        return y * self.weight.view(view) + self.bias.view(view)


class EnsembleResNet(nn.Module):
    """Residual MLP backbone for tabular inputs.

    Args:
        ensemble_size: number of members ``E``.
        in_features: input dimension ``d``.
        width: width of the residual stream (also the representation size).
        hidden: width inside each block.
        n_blocks: number of residual blocks.
        dropout: dropout after the hidden activation of each block.
        residual_dropout: dropout on each block's output before the residual sum.
        activation: ``"silu"`` (smooth, the default: better on smooth simulator
            outputs with little data), ``"gelu"`` or ``"relu"``.
        final_norm: normalise the residual stream before the heads. Off by default:
            layer normalisation discards the representation's overall scale, which
            regression targets such as distances depend on.
    """

    def __init__(
        self,
        ensemble_size: int,
        in_features: int,
        width: int = 64,
        hidden: int = 128,
        n_blocks: int = 2,
        dropout: float = 0.0,
        residual_dropout: float = 0.0,
        activation: str = "silu",
        final_norm: bool = False,
    ) -> None:
        super().__init__()
        self.out_features = width
        self.act = _activation(activation)
        self.dropout = dropout
        self.residual_dropout = residual_dropout
        self.first = EnsembleLinear(ensemble_size, in_features, width)
        self.norms = nn.ModuleList(
            [EnsembleLayerNorm(ensemble_size, width) for _ in range(n_blocks)]
        )
        self.lin1 = nn.ModuleList(
            [EnsembleLinear(ensemble_size, width, hidden) for _ in range(n_blocks)]
        )
        self.lin2 = nn.ModuleList(
            [EnsembleLinear(ensemble_size, hidden, width) for _ in range(n_blocks)]
        )
        self.final_norm = EnsembleLayerNorm(ensemble_size, width) if final_norm else None

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(E, N, d)`` inputs to an ``(E, N, width)`` representation."""
        h = self.first(x)
        for norm, lin1, lin2 in zip(self.norms, self.lin1, self.lin2):
            z = self.act(lin1(norm(h)))
            z = F.dropout(z, self.dropout, self.training)
            z = F.dropout(lin2(z), self.residual_dropout, self.training)
            h = h + z
        if self.final_norm is not None:
            h = self.final_norm(h)
        return self.act(h)


class _TransformerBlock(nn.Module):
    """Pre-norm transformer block on ``(E, N, T, D)`` token tensors."""

    def __init__(
        self,
        ensemble_size: int,
        dim: int,
        heads: int,
        ffn_hidden: int,
        attention_dropout: float,
        ffn_dropout: float,
        residual_dropout: float,
        cls_only: bool,
        activation: str = "silu",
    ) -> None:
        super().__init__()
        self.act = _activation(activation)
        self.dim = dim
        self.heads = heads
        self.attention_dropout = attention_dropout
        self.ffn_dropout = ffn_dropout
        self.residual_dropout = residual_dropout
        # In the last block only the CLS token is read out, so only it needs queries.
        self.cls_only = cls_only
        self.attn_norm = EnsembleLayerNorm(ensemble_size, dim)
        self.qkv = EnsembleLinear(ensemble_size, dim, 3 * dim)
        self.out = EnsembleLinear(ensemble_size, dim, dim)
        self.ffn_norm = EnsembleLayerNorm(ensemble_size, dim)
        self.ffn_in = EnsembleLinear(ensemble_size, dim, 2 * ffn_hidden)
        self.ffn_out = EnsembleLinear(ensemble_size, ffn_hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        E, N, T, D = x.shape
        H = self.heads
        q, k, v = self.qkv(self.attn_norm(x)).chunk(3, dim=-1)
        if self.cls_only:
            q = q[:, :, :1]
            x = x[:, :, :1]
        Tq = q.shape[2]

        def split(t: Tensor, length: int) -> Tensor:
            return t.reshape(E * N, length, H, D // H).transpose(1, 2)

        a = F.scaled_dot_product_attention(
            split(q, Tq),
            split(k, T),
            split(v, T),
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        a = a.transpose(1, 2).reshape(E, N, Tq, D)
        x = x + F.dropout(self.out(a), self.residual_dropout, self.training)
        u, g = self.ffn_in(self.ffn_norm(x)).chunk(2, dim=-1)
        z = F.dropout(u * self.act(g), self.ffn_dropout, self.training)  # gated (GLU)
        return x + F.dropout(self.ffn_out(z), self.residual_dropout, self.training)


class EnsembleFTTransformer(nn.Module):
    """Feature-tokenizer transformer backbone for tabular inputs.

    Args:
        ensemble_size: number of members ``E``.
        in_features: input dimension ``d`` (one token per feature, plus CLS).
        dim: token width ``D`` (also the representation size).
        heads: attention heads (must divide ``dim``).
        n_blocks: number of transformer blocks.
        ffn_factor: gated hidden width as a multiple of ``dim``.
        attention_dropout: dropout on attention probabilities.
        ffn_dropout: dropout inside the feed-forward layers.
        residual_dropout: dropout on each sub-layer's output before the residual sum.
        activation: gate of the gated feed-forward layers and activation of the
            representation: ``"silu"`` (SwiGLU, the default), ``"gelu"`` (GEGLU) or
            ``"relu"`` (ReGLU, as Gorishniy et al.).
        final_norm: normalise the CLS token before the heads (as Gorishniy et al.).

    The defaults differ from the paper's (ReGLU, final layer norm, feed-forward
    dropout 0.1): with a few hundred rows a smooth network without the final
    normalisation, which discards the representation's scale, locates the optimum of
    smooth objectives about twice as precisely and raised the feasible share on
    ``hh-cell`` from 30 % to 62 % (``docs/search.md``).
    """

    def __init__(
        self,
        ensemble_size: int,
        in_features: int,
        dim: int = 32,
        heads: int = 4,
        n_blocks: int = 2,
        ffn_factor: float = 4.0 / 3.0,
        attention_dropout: float = 0.0,
        ffn_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        activation: str = "silu",
        final_norm: bool = False,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.out_features = dim
        self.in_features = in_features
        self.tok_weight = nn.Parameter(torch.empty(ensemble_size, in_features, dim))
        self.tok_bias = nn.Parameter(torch.empty(ensemble_size, in_features, dim))
        self.cls = nn.Parameter(torch.empty(ensemble_size, dim))
        ffn_hidden = max(1, int(round(dim * ffn_factor)))
        self.blocks = nn.ModuleList(
            [
                _TransformerBlock(
                    ensemble_size,
                    dim,
                    heads,
                    ffn_hidden,
                    attention_dropout,
                    ffn_dropout,
                    residual_dropout,
                    cls_only=(i == n_blocks - 1),
                    activation=activation,
                )
                for i in range(n_blocks)
            ]
        )
        self.act = _activation(activation)
        self.final_norm = EnsembleLayerNorm(ensemble_size, dim) if final_norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.out_features)
        with torch.no_grad():
            self.tok_weight.uniform_(-bound, bound)
            self.tok_bias.uniform_(-bound, bound)
            self.cls.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(E, N, d)`` inputs to an ``(E, N, dim)`` representation."""
        E, N, _ = x.shape
        tokens = x.unsqueeze(-1) * self.tok_weight.unsqueeze(1) + self.tok_bias.unsqueeze(1)
        cls = self.cls.view(E, 1, 1, -1).expand(E, N, 1, self.out_features)
        h = torch.cat([cls, tokens], dim=2)
        for block in self.blocks:
            h = block(h)
        h = h[:, :, 0]
        if self.final_norm is not None:
            h = self.final_norm(h)
        return self.act(h)


class _Head(nn.Module):
    """Linear head, or one SiLU hidden layer then linear when ``hidden > 0``."""

    def __init__(self, ensemble_size: int, width: int, hidden: int, out: int) -> None:
        super().__init__()
        self.hidden = EnsembleLinear(ensemble_size, width, hidden) if hidden else None
        self.out = EnsembleLinear(ensemble_size, hidden or width, out)

    def forward(self, h: Tensor) -> Tensor:
        if self.hidden is not None:
            h = F.silu(self.hidden(h))
        return self.out(h)


class EnsembleJointNetwork(nn.Module):
    """A backbone with a regression head and a classification head.

    Args:
        backbone: an ensemble backbone exposing ``out_features``.
        ensemble_size: number of members ``E``.
        num_objectives: regression outputs ``m``.
        num_constraints: classification logits ``k`` (0 for objective-only networks).
        head_hidden: width of a private hidden layer in each head (0: linear heads).
            Private capacity lets the two tasks share the representation without
            competing for its last layer.
        classification_grad_scale: fraction of the classification loss's gradient
            that flows into the shared backbone during training (in eval mode the
            network is left whole, so gradients with respect to the inputs are exact).
    """

    def __init__(
        self,
        backbone: nn.Module,
        ensemble_size: int,
        num_objectives: int,
        num_constraints: int,
        head_hidden: int = 0,
        classification_grad_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.classification_grad_scale = float(classification_grad_scale)
        self.backbone = backbone
        self.num_objectives = num_objectives
        self.num_constraints = num_constraints
        width = cast(int, backbone.out_features)  # every backbone here declares it
        self.regression_head = _Head(ensemble_size, width, head_hidden, num_objectives)
        self.classification_head = (
            _Head(ensemble_size, width, head_hidden, num_constraints) if num_constraints else None
        )

    def reset_parameters(self) -> None:
        """Re-draw every parameter (used before each fit so that fits are reproducible)."""
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and callable(reset):
                reset()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Map ``(E, N, d)`` inputs to ``(E, N, m)`` regression outputs and ``(E, N, k)`` logits."""
        h = self.backbone(x)
        logits = None
        if self.classification_head is not None:
            hc = h
            if self.training and self.classification_grad_scale != 1.0:
                # Same features forward; only a fraction of the BCE gradient shapes the
                # shared backbone (the head itself still learns at full rate). Only while
                # training: gradients with respect to the inputs must stay exact.
                hd = h.detach()
                hc = hd + self.classification_grad_scale * (h - hd)
            logits = self.classification_head(hc)
        return self.regression_head(h), logits


def default_width(in_features: int) -> int:
    """A representation width that grows gently with the input dimension (64 to 128)."""
    return int(min(128, max(64, 2 ** math.ceil(math.log2(max(in_features, 1) * 2)))))


#: Fraction of the classification gradient reaching the shared backbone, per backbone.
#: With the full gradient the classification loss, which overfits within tens of
#: epochs, dominates the shared features and costs the regression head accuracy; these
#: values were the best trade-off on ``hh-cell`` and ``c2dtlz2`` (n = 300, see
#: ``docs/surrogate_accuracy.md``).
DEFAULT_CLASSIFICATION_GRAD_SCALE = {"resnet": 0.1, "ftt": 0.3}


def build_network(
    backbone: str,
    ensemble_size: int,
    in_features: int,
    num_objectives: int,
    num_constraints: int,
    head_hidden: int = 0,
    classification_grad_scale: float | None = None,
    **options: Any,
) -> EnsembleJointNetwork:
    """Build an :class:`EnsembleJointNetwork` with sensible defaults for 5-100 inputs.

    Args:
        backbone: ``"ftt"`` (FT-Transformer) or ``"resnet"``.
        ensemble_size: number of members.
        in_features: input dimension ``d``.
        num_objectives: regression outputs ``m``.
        num_constraints: classification logits ``k``.
        head_hidden: width of a private hidden layer per head (0: linear heads).
        classification_grad_scale: fraction of the classification gradient that
            reaches the backbone (``None``: :data:`DEFAULT_CLASSIFICATION_GRAD_SCALE`).
        **options: keyword arguments forwarded to the backbone constructor
            (e.g. ``width``/``n_blocks``/``activation`` for the ResNet,
            ``dim``/``heads``/``n_blocks`` for the FT-Transformer).

    Raises:
        ValueError: for an unknown backbone name.
    """
    if backbone == "resnet":
        width = int(options.pop("width", default_width(in_features)))
        hidden = int(options.pop("hidden", 2 * width))
        net: nn.Module = EnsembleResNet(
            ensemble_size, in_features, width=width, hidden=hidden, **options
        )
    elif backbone == "ftt":
        net = EnsembleFTTransformer(ensemble_size, in_features, **options)
    else:
        raise ValueError(f"unknown backbone {backbone!r}; use 'ftt' or 'resnet'")
    if classification_grad_scale is None:
        classification_grad_scale = DEFAULT_CLASSIFICATION_GRAD_SCALE[backbone]
    return EnsembleJointNetwork(
        net, ensemble_size, num_objectives, num_constraints, head_hidden, classification_grad_scale
    )
