"""Everything here leans on Ax beyond its documented extension points.

Checked against **ax-platform 1.3.1**; re-check this module when Ax moves. The rest of
:mod:`botorch_joint.ax` uses public Ax API only: the ``ExternalGenerationNode`` hooks
(``update_generator_state``, ``get_next_candidate``), transition criteria given to its
constructor, the public attributes of Ax's core objects, and the ``Client`` methods.

What those hooks do not cover, and why it is needed:

1. **Pausing criteria.** The initial-design node must not propose past its design
   before the design is evaluated. Ax pauses a node through its ``pausing_criteria``,
   but ``ExternalGenerationNode.__init__`` does not forward them to
   ``GenerationNode.__init__``; :class:`ExternalNode` answers the public
   ``pausing_criteria`` property itself.
2. **The trial limit at a hand-over.** ``GenerationStrategy.gen`` asks the *current*
   node for ``new_trial_limit()`` before it moves to the next node; a finished design
   node would cap the first surrogate batch at 0. :meth:`ExternalNode.new_trial_limit`
   answers "unlimited" once the node's transition criteria are met.
3. **Generator-run metadata.** Each batch's epoch is stored in the generator run's
   ``gen_metadata``, so a reloaded experiment keeps its epochs; the hooks return bare
   parameterizations. :meth:`ExternalNode.gen` (the public ``GenerationNode.gen``)
   rebuilds the run through ``GeneratorRun``'s public constructor with the metadata of
   :meth:`ExternalNode.generator_run_metadata` added.
4. **A client's experiment.** ``ax.api.Client`` 1.3.1 has no public accessor for the
   experiment it holds; :func:`read_client_experiment` reads its ``_maybe_experiment``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ax.core.generator_run import GeneratorRun
from ax.generation_strategy.external_generation_node import ExternalGenerationNode

if TYPE_CHECKING:
    from ax.api.client import Client
    from ax.core.experiment import Experiment
    from ax.generation_strategy.transition_criterion import (
        PausingCriterion,
        TransitionCriterion,
    )

#: the Ax release this module was checked against
AX_VERSION_CHECKED = "1.3.1"


class ExternalNode(ExternalGenerationNode):
    """An ``ExternalGenerationNode`` with pausing criteria and generator-run metadata.

    Subclasses implement Ax's two hooks and may override
    :meth:`generator_run_metadata`.

    Args:
        name: the node's name.
        should_deduplicate: let Ax regenerate candidates that repeat earlier arms.
        transition_criteria: when to move to another node.
        pausing_criteria: when to stop proposing while staying on this node.
    """

    def __init__(
        self,
        name: str,
        should_deduplicate: bool = True,
        transition_criteria: Sequence[TransitionCriterion] | None = None,
        pausing_criteria: Sequence[PausingCriterion] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            should_deduplicate=should_deduplicate,
            transition_criteria=transition_criteria,
        )
        self._pause_when: list[PausingCriterion] = list(pausing_criteria or [])

    @property
    def pausing_criteria(self) -> Sequence[PausingCriterion]:
        """The node's pausing criteria (item 1 of the module docstring)."""
        return self._pause_when

    def new_trial_limit(self, raise_generation_errors: bool = False) -> int:
        """Unlimited once the node is done, Ax's limit before (item 2)."""
        if super().should_transition_to_next_node(raise_data_required_error=False)[0]:
            return -1
        return super().new_trial_limit(raise_generation_errors)

    def generator_run_metadata(self) -> dict[str, Any]:
        """Metadata for the generator run just made (called after each generation)."""
        return {}

    def gen(self, **kwargs: Any) -> GeneratorRun | None:
        """Ax's ``GenerationNode.gen`` with :meth:`generator_run_metadata` added (item 3)."""
        gr = super().gen(**kwargs)
        extra = self.generator_run_metadata()
        if gr is None or not extra:
            return gr
        return GeneratorRun(
            arms=gr.arms,
            weights=gr.weights,
            fit_time=gr.fit_time,
            gen_time=gr.gen_time,
            generator_key=self.name,  # what ExternalGenerationNode sets
            gen_metadata={**(gr.gen_metadata or {}), **extra},
            generation_node_name=self.name,
            suggested_experiment_status=self.suggested_experiment_status,
        )


def read_client_experiment(client: Client) -> Experiment:
    """The experiment an Ax ``Client`` holds (item 4).

    Raises:
        ValueError: the client has no experiment yet.
    """
    experiment = getattr(client, "_maybe_experiment", None)
    if experiment is None:
        raise ValueError(
            "the Ax Client has no experiment yet: call client.configure_experiment(...) "
            "or client.set_experiment(...) first"
        )
    return experiment
