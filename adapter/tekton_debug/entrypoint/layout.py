"""The run directory: Tekton's ``/tekton`` layout placed under a root directory.

``<root>/tekton`` stands for a step container's ``/tekton`` and ``<root>/workspace`` for its
``/workspace``. The local runtime keeps one such root per run; the test cluster keeps one per pod.
With a separate ``control`` directory (the local runtime's, on a tmpfs: ``runtimes.local.rundir``)
``<control>/tekton`` stands for ``/tekton`` and ``<control>/steps`` holds the steps' private views,
while ``HOME`` (``<root>/home``) and ``/workspace``, which can grow large, stay under the root.

Tekton mounts ``/tekton/debug/info/<i>`` (an empty directory) into step i only, so that the debug
scripts find their step number as the only entry of ``/tekton/debug/info``. Processes on one host
share one file system, so each step i gets a private view instead,
``<root>/steps/<i>/debug/info/<i>``, and the scripts read ``$TEKTON_DEBUG_INFO_DIR`` (set to
``<root>/steps/<i>/debug/info`` for step i) before falling back to ``<tekton>/debug/info``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

DEBUG_INFO_ENV = "TEKTON_DEBUG_INFO_DIR"

# The files of the step lifecycle, as suffixes of a step's post file ``run/<i>/out``.
ERR_SUFFIX = ".err"
BREAKPOINT_EXIT_SUFFIX = ".breakpointexit"
BEFORE_STEP_EXIT_SUFFIX = ".beforestepexit"


class RunLayout:
    """The paths Tekton uses, under ``root``, for a TaskRun of ``step_count`` steps; its control
    files (``/tekton``, the steps' views) under ``control`` when given."""

    def __init__(self, root: Path, step_count: int, control: Path | None = None) -> None:
        self.root = Path(root)
        self.step_count = step_count
        self.control = Path(control) if control else self.root
        self.tekton = self.control / "tekton"
        # HOME: a container's /tekton/home; apart from the control files, with the workspaces
        self.home = self.tekton / "home" if control is None else self.root / "home"

    # ---- per step ------------------------------------------------------------------------
    def run_dir(self, i: int) -> Path:
        return self.tekton / "run" / str(i)

    def post_file(self, i: int) -> Path:
        """``out``: step i succeeded (or was marked passed); step i+1 may start."""
        return self.run_dir(i) / "out"

    def err_file(self, i: int) -> Path:
        """``out.err``: step i failed."""
        return self.run_dir(i) / ("out" + ERR_SUFFIX)

    def breakpoint_exit_file(self, i: int) -> Path:
        return self.run_dir(i) / ("out" + BREAKPOINT_EXIT_SUFFIX)

    def before_step_exit_file(self, i: int) -> Path:
        return self.run_dir(i) / ("out" + BEFORE_STEP_EXIT_SUFFIX)

    def before_step_exit_err_file(self, i: int) -> Path:
        return self.run_dir(i) / ("out" + BEFORE_STEP_EXIT_SUFFIX + ERR_SUFFIX)

    def step_metadata_dir(self, i: int) -> Path:
        """``-step_metadata_dir``: ``run/<i>/status``."""
        return self.run_dir(i) / "status"

    def exit_code_file(self, i: int) -> Path:
        return self.step_metadata_dir(i) / "exitCode"

    def termination_path(self, i: int) -> Path:
        """Step i's ``/tekton/termination`` (each container has its own)."""
        return self.tekton / "termination" / str(i)

    def wait_file(self, i: int) -> Path:
        """What step i waits for: the downward ``ready`` file for step 0, else step i-1's ``out``."""
        return self.downward_ready if i == 0 else self.post_file(i - 1)

    def step_view_dir(self, i: int) -> Path:
        """Step i's private view of the files Tekton mounts into its container only."""
        return self.control / "steps" / str(i)

    def step_info_dir(self, i: int) -> Path:
        """The value of ``TEKTON_DEBUG_INFO_DIR`` for step i (holds one entry: ``<i>``)."""
        return self.step_view_dir(i) / "debug" / "info"

    # ---- shared --------------------------------------------------------------------------
    @property
    def results_dir(self) -> Path:
        return self.tekton / "results"

    @property
    def debug_scripts_dir(self) -> Path:
        return self.tekton / "debug" / "scripts"

    @property
    def debug_info_dir(self) -> Path:
        return self.tekton / "debug" / "info"

    @property
    def scripts_dir(self) -> Path:
        return self.tekton / "scripts"

    @property
    def downward_dir(self) -> Path:
        return self.tekton / "downward"

    @property
    def downward_ready(self) -> Path:
        return self.downward_dir / "ready"

    @property
    def downward_cancel(self) -> Path:
        return self.downward_dir / "cancel"

    @property
    def steps_dir(self) -> Path:
        return self.tekton / "steps"

    @property
    def workspace_root(self) -> Path:
        return self.root / "workspace"

    def workspace(self, name: str) -> Path:
        return self.workspace_root / name

    # ---- creation ------------------------------------------------------------------------
    def create_base(self, *, results: bool = True, scripts: bool = True) -> None:
        """What the steps of a run on this host need before any starts (home, ``/workspace``,
        and the results and scripts directories when the Task has results and scripts); the rest
        is made when first needed (:meth:`create_step`, :meth:`create_debug_view`). A run's
        directories are many, and on some file systems each costs a millisecond to create and
        another to remove."""
        self.tekton.mkdir(parents=True, exist_ok=True)
        for d, wanted in ((self.results_dir, results), (self.home, True),
                          (self.scripts_dir, scripts), (self.workspace_root, True)):
            if wanted:
                d.mkdir(exist_ok=True)

    def create_step(self, i: int, container: str | None, *, results: bool) -> None:
        """Step i's ``run/<i>`` (its post files, its pause's exit file); with ``results``, its
        ``$(step.results.<name>.path)`` directory, linked from ``steps/<i>`` and
        ``steps/<container>`` as Tekton's ``step-init`` does."""
        if not results:
            self.run_dir(i).mkdir(parents=True, exist_ok=True)
            return
        (self.step_metadata_dir(i) / "results").mkdir(parents=True, exist_ok=True)
        self.steps_dir.mkdir(exist_ok=True)
        self._link_step(i, [str(i)] + ([container] if container else []))

    def create_debug_view(self, i: int) -> None:
        """Step i's private view for the debug scripts (``TEKTON_DEBUG_INFO_DIR``)."""
        (self.step_info_dir(i) / str(i)).mkdir(parents=True, exist_ok=True)

    def _link_step(self, i: int, links: Sequence[str]) -> None:
        target = os.path.relpath(self.step_metadata_dir(i), self.steps_dir)
        for link in links:
            try:
                os.symlink(target, self.steps_dir / link)
            except FileExistsError:
                pass

    def create(self, container_names: Sequence[str] | None = None) -> None:
        """Make every directory, each step's as :meth:`create_step` and :meth:`create_debug_view`
        do. Idempotent."""
        for d in (self.results_dir, self.debug_scripts_dir, self.debug_info_dir, self.scripts_dir,
                  self.downward_dir, self.steps_dir, self.home, self.workspace_root,
                  self.tekton / "termination", self.tekton / "bin"):
            d.mkdir(parents=True, exist_ok=True)
        names = list(container_names or [])
        for i in range(self.step_count):
            self.create_step(i, names[i] if i < len(names) else None, results=True)
            (self.step_metadata_dir(i) / "artifacts").mkdir(exist_ok=True)
            self.create_debug_view(i)
