"""Ax integration: the joint-surrogate search as an Ax ``GenerationStrategy``.

* :func:`joint_generation_strategy` (:mod:`botorch_joint.ax.nodes`): our initial design,
  then one of our strategies, as a strategy an Ax ``Client`` accepts with
  ``client.set_generation_strategy(...)``;
* :func:`result_from_client` and :func:`result_from_experiment`
  (:mod:`botorch_joint.ax.view`): an Ax run as a :class:`~botorch_joint.Result`, with
  this package's conventions (objectives minimised, constraints satisfied iff
  ``>= 0``, failed trials as failed rows); :func:`client_experiment`: the experiment
  a ``Client`` holds (to save it, say).

Importing this package imports Ax and registers :class:`~botorch_joint.models.JointSurrogate`
with Ax's ``fit_botorch_model`` dispatcher
(:func:`~botorch_joint.models.fit.register_with_ax`), so that Ax's ``BOTORCH_MODULAR``
generator can fit a ``JointSurrogate`` named in a ``ModelConfig``. Nothing else in the
package imports Ax, except the ``ax-default`` method when it runs.
"""

from __future__ import annotations

from botorch_joint.ax.nodes import (
    INITIAL_NODE,
    SURROGATE_NODE,
    InitialDesignNode,
    JointSurrogateNode,
    joint_generation_strategy,
)
from botorch_joint.ax.view import (
    EPOCH_KEY,
    ExperimentView,
    client_experiment,
    experiment_view,
    result_from_client,
    result_from_experiment,
)
from botorch_joint.models.fit import register_with_ax

__all__ = [
    "EPOCH_KEY",
    "INITIAL_NODE",
    "SURROGATE_NODE",
    "ExperimentView",
    "InitialDesignNode",
    "JointSurrogateNode",
    "client_experiment",
    "experiment_view",
    "joint_generation_strategy",
    "result_from_client",
    "result_from_experiment",
]

register_with_ax()
