"""The ensemble backbones and the two-headed joint network."""

from __future__ import annotations

import pytest
import torch

from botorch_joint.models.networks import build_network


@pytest.mark.parametrize("backbone", ["resnet", "ftt"])
def test_classification_gradient_scale_acts_only_in_training(backbone: str) -> None:
    """The scale limits how much BCE shapes the backbone, not the input gradient."""
    torch.manual_seed(0)
    scaled = build_network(backbone, 2, 4, 2, 3, classification_grad_scale=0.3).double()
    exact = build_network(backbone, 2, 4, 2, 3, classification_grad_scale=1.0).double()
    exact.load_state_dict(scaled.state_dict())
    x = torch.rand(2, 5, 4, dtype=torch.double)

    def input_gradient(net: torch.nn.Module) -> torch.Tensor:
        xr = x.clone().requires_grad_(True)
        _, logits = net(xr)
        (grad,) = torch.autograd.grad(logits.sum(), xr)
        return grad

    scaled.eval(), exact.eval()
    torch.testing.assert_close(input_gradient(scaled), input_gradient(exact))

    scaled.train(), exact.train()
    for net in (scaled, exact):
        net.zero_grad()
        torch.manual_seed(1)  # the same dropout masks in both
        net(x)[1].sum().backward()
    # in training the backbone receives 0.3 of the classification gradient
    for (name, a), (_, b) in zip(
        scaled.backbone.named_parameters(), exact.backbone.named_parameters(), strict=True
    ):
        if b.grad is not None and b.grad.abs().sum() > 0:
            torch.testing.assert_close(a.grad, 0.3 * b.grad, msg=name)
