"""tekton-debug: a debugger for Tekton TaskRuns.

Layers, top to bottom: ``cli`` and ``dap`` (front ends), ``session`` (one TaskRun = one debug
session), ``runtimes`` (local processes or a Kubernetes cluster), ``entrypoint`` (the TEP-0042 step
lifecycle and debug scripts), ``tekton`` (the model). ``lsp`` serves Tekton YAML to editors.
"""

__version__ = "0.1.0"
