# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # HPC: your simulator, the command line, MPI and resuming a killed run
#
# This notebook wraps an existing simulator as a `Problem` (a Python function and an
# external command), runs it from the `botorch-joint` command line, shows the MPI
# command line, and kills a run half-way to show that `--resume` loses and repeats
# nothing. It works in a scratch directory.

# %%
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")

# %%
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import botorch_joint as bj

start_dir = Path.cwd()
work = Path(tempfile.mkdtemp(prefix="bj-hpc-"))  # scratch directory, removed at the end
os.chdir(work)
print("working in", work)

# %% [markdown]
# ## Wrapping a Python simulator
#
# A simulator is any function `params: dict[str, float] -> dict[str, float]` that
# returns every declared objective and constraint by name. Exceptions, time-outs and
# non-finite objectives become *failed evaluations*: recorded, counted as infeasible,
# never a crash. A vectorised simulator can be given as `batch_evaluate`
# (`(n, d) array -> (Y (n, m), C (n, k))`) instead or as well.
#
# The module below is what a user would keep next to their own simulator. Its
# `time.sleep` stands in for an expensive simulation.

# %%
DELAY = 0.1 if SMOKE_TEST else 0.5  # seconds per "simulation"

Path("my_problem.py").write_text(
    textwrap.dedent(f"""
    import math
    import time

    import botorch_joint as bj


    def simulate(p):
        time.sleep({DELAY})  # the expensive part
        x, y = p["x"], p["y"]
        if x > 0.95:
            raise RuntimeError("solver diverged")  # becomes a failed evaluation
        return {{
            "f1": x,
            "f2": (1 + y) * (1 - math.sqrt(x / (1 + y))),
            "c1": 0.8 - x * x - y,  # satisfied iff >= 0
        }}


    problem = bj.Problem(
        name="toy",
        parameters={{"x": (0.0, 1.0), "y": (0.0, 1.0)}},
        objectives=["f1", "f2"],
        constraints=["c1"],
        evaluate=simulate,
        ref_point=[1.1, 2.1],
    )
""")
)

sys.path.insert(0, str(work))
from my_problem import problem

print(problem)
print(problem.evaluate({"x": 0.3, "y": 0.2}))

# %% [markdown]
# ## Wrapping an external command
#
# A simulator that is a program rather than a Python function is wrapped with
# `Problem.from_command`. Every evaluation runs the program once in a fresh working
# directory: the parameters are written to `params.json`, the placeholders
# `{params}`, `{output}` and `{workdir}` in the command are replaced by the paths,
# and the program writes every objective and constraint to `output.json`. A
# non-zero exit status, a time-out or a missing output is a failed evaluation whose
# message keeps the tail of the program's stderr.

# %%
Path("external_sim.py").write_text(
    textwrap.dedent("""
    import json
    import sys

    params_file, output_file = sys.argv[1], sys.argv[2]
    with open(params_file) as fh:
        p = json.load(fh)
    if p["y"] > 0.9:
        sys.exit("mesh generation failed")  # non-zero exit: a failed evaluation
    with open(output_file, "w") as fh:
        json.dump({"f1": p["x"], "f2": (1 - p["x"]) ** 2 + p["y"], "c1": 0.5 - p["y"]}, fh)
""")
)

external = bj.Problem.from_command(
    [sys.executable, str(work / "external_sim.py"), "{params}", "{output}"],
    parameters={"x": (0.0, 1.0), "y": (0.0, 1.0)},
    objectives=["f1", "f2"],
    constraints=["c1"],
    timeout=60,
    name="external",
    ref_point=[1.1, 2.1],
)
print(external.evaluate({"x": 0.25, "y": 0.1}))
for e in external.evaluate_batch(np.array([[0.5, 0.2], [0.5, 0.95]])):
    print("failed:" if e.failed else "ok:", e.error.splitlines()[0] if e.failed else e.y)

# %% [markdown]
# Such a problem runs in `bj.optimize` and on the command line like any other; with
# `evaluator="process"` or `"mpi"` the program runs on many workers at once.

# %% [markdown]
# ## The command line
#
# `botorch-joint run PROBLEM` takes a built-in name or `module:attribute` naming a
# `Problem` (here `my_problem:problem`). It prints progress and a summary and writes
# `results.csv`, `hv.png` and the checkpoint into `--run-dir`. In a terminal you
# would type `botorch-joint run ...`; the notebook calls the same entry point as
# `python -m botorch_joint.cli run ...`.

# %%
BUDGET = 24 if SMOKE_TEST else 60
BATCH_SIZE = 6 if SMOKE_TEST else 10
cli = [sys.executable, "-m", "botorch_joint.cli"]
env = {**os.environ, "PYTHONPATH": str(work)}

args = [
    "run",
    "my_problem:problem",
    "--method",
    "slh",
    "--budget",
    str(BUDGET),
    "--batch-size",
    str(BATCH_SIZE),
    "--run-dir",
    "runs/cli",
    "--no-progress",
]
print("$ botorch-joint", " ".join(args))
out = subprocess.run(cli + args, env=env, capture_output=True, text=True, check=True)
print(out.stdout)
print(sorted(p.name for p in Path("runs/cli").iterdir()))

# %% [markdown]
# ## On a cluster: MPI
#
# With `--evaluator mpi` rank 0 runs the optimiser and every other rank evaluates
# points, so `mpiexec -n 9` gives eight simulator workers. Make `--batch-size` a
# multiple of the number of workers so that none idles:
#
# ```bash
# mpiexec -n 9 botorch-joint run my_problem:problem --evaluator mpi \
#     --method c+o-ftt --budget 2000 --batch-size 64 --run-dir runs/big
# ```
#
# A SLURM job script is the same line under `srun`:
#
# ```bash
# #!/bin/bash
# #SBATCH --ntasks=65 --time=12:00:00
# srun botorch-joint run my_problem:problem --evaluator mpi \
#     --method c+o-ftt --budget 5000 --batch-size 64 --run-dir runs/big --resume
# ```
#
# `--resume` in the job script makes resubmitting the same script after a time-out
# continue the run. From Python, `bj.optimize(..., evaluator="mpi")` does the same,
# and `evaluator=` also accepts any `concurrent.futures.Executor` (for instance a
# Dask or `mpi4py.futures` pool you already have).
#
# If `mpiexec` is available, a small MPI run:

# %%
# mpiexec on PATH, or the one installed next to this Python (the mpich wheel)
here = os.path.dirname(sys.executable)
mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=here)
if mpiexec is None:
    print("mpiexec not found: skipping the MPI run")
else:
    args = [
        "run",
        "my_problem:problem",
        "--evaluator",
        "mpi",
        "--method",
        "slh",
        "--budget",
        "12",
        "--batch-size",
        "6",
        "--run-dir",
        "runs/mpi",
        "--no-progress",
    ]
    print("$ mpiexec -n 2 botorch-joint", " ".join(args))
    out = subprocess.run(
        [mpiexec, "-n", "2", *cli, *args], env=env, capture_output=True, text=True, timeout=120
    )
    print(out.stdout[-2000:] or out.stderr[-2000:])

# %% [markdown]
# ## Resume after a kill
#
# Runs are checkpointed after every batch, and every finished evaluation of the batch
# in flight is journalled the moment it finishes. Here a run is killed with `SIGKILL`
# part-way through, then continued with `--resume`.

# %%
args = [
    "run",
    "my_problem:problem",
    "--method",
    "slh",
    "--budget",
    str(BUDGET),
    "--batch-size",
    str(BATCH_SIZE),
    "--run-dir",
    "runs/killed",
    "--no-progress",
]
proc = subprocess.Popen(cli + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# Kill the run in the middle of its second batch: after the first batch is
# checkpointed and two evaluations of the next one are journalled.
ckpt, journal = Path("runs/killed/checkpoint.json"), Path("runs/killed/journal.jsonl")


def journalled():
    try:  # the run deletes the journal whenever it checkpoints a batch
        lines = journal.read_text().splitlines()
    except FileNotFoundError:
        return 0
    # finished evaluations (the journal also notes each point as it starts)
    return sum('"kind": "result"' in line for line in lines)


deadline = time.time() + 120
while time.time() < deadline and proc.poll() is None:
    if ckpt.exists() and len(json.loads(ckpt.read_text())["X"]) >= BATCH_SIZE and journalled() >= 2:
        break
    time.sleep(0.01)
proc.send_signal(signal.SIGKILL)
proc.wait()

partial = bj.load_result("runs/killed")
batches = bj.load_result("runs/killed", include_in_flight=False)
print(
    f"killed after {len(partial)} finished evaluations: {len(batches)} in completed "
    f"batches, {len(partial) - len(batches)} journalled from the interrupted batch"
)

# %%
out = subprocess.run(cli + args + ["--resume"], env=env, capture_output=True, text=True, check=True)
print(out.stdout)

final = bj.load_result("runs/killed")
n = len(partial)
print(f"{len(final)} evaluations after the resume (budget {BUDGET})")
kept = np.array_equal(final.X[:n], partial.X[:n]) and np.array_equal(
    final.Y[:n], partial.Y[:n], equal_nan=True
)
print("the evaluations from before the kill are kept unchanged:", kept)
print("no point was evaluated twice:", len(np.unique(final.X, axis=0)) == len(final))

# %% [markdown]
# The same from Python: `bj.optimize(problem, ..., run_dir="runs/killed",
# resume=True)`. Resuming with different settings (method, budget, batch size,
# seed, ...) is refused rather than silently mixing two runs.

# %%
os.chdir(start_dir)
shutil.rmtree(work)  # comment this out to look at the run directories
