"""The Tekton model: Tasks and TaskRuns as tekton-debug sees them.

- ``model``: the dataclasses (TaskRun, TaskSpec, Step, ...), each with its place in its file;
- ``yamlpos``: YAML loaded with the position of every value and key;
- ``loader``: ``load_file`` / ``load_text`` / ``load_object`` -> TaskRun;
- ``validation``: what Tekton would reject, as located Problems; ``diagnose`` for editors;
- ``params``: ``resolve_params``: the value of every param of a run;
- ``variables`` and ``substitution``: Tekton's ``$(...)`` variables and their replacement;
- ``duration``: Go durations.
"""
