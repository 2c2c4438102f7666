"""Neuroscience problems: simulators of neurons and networks, and the BluePyOpt adapter.

* :mod:`~botorch_joint.problems.neuro.hh_cell`: a vectorised Hodgkin-Huxley cell fitted to
  current-clamp features (``hh-cell``, ``hh-cell-passfail``);
* :mod:`~botorch_joint.problems.neuro.hh_neuron`: the same fit simulated in NEURON with
  eFEL features (``hh-neuron``);
* :mod:`~botorch_joint.problems.neuro.ei_network`: an excitatory-inhibitory spiking
  network (``ei-network``);
* :mod:`~botorch_joint.problems.neuro.mean_field`: a whole-brain mean-field model on a
  connectome (``mean-field``);
* :mod:`~botorch_joint.problems.neuro.bluepyopt`: BluePyOpt evaluators as problems, with
  two models built from BluePyOpt parts in
  :mod:`~botorch_joint.problems.neuro.bluepyopt_models`.

Analytic test functions live in :mod:`botorch_joint.problems.test_functions`, the
external-program adapter in :mod:`botorch_joint.problems.command`. Nothing is imported
here: the simulators load NumPy data, NEURON or BluePyOpt only when a problem is built.
"""
