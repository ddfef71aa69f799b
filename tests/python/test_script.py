"""Which steps are Python, and how their script's lines in the Task YAML map to the lines of the
file the step runs, through Tekton's substitutions."""

from __future__ import annotations

import textwrap

from tekton_debug.python.script import interpreter, map_script, yaml_lines
from tekton_debug.tekton.loader import load_text

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: t
    spec:
      params:
        - name: names
      steps:
        - name: py
          image: python
          script: |

            #!/usr/bin/env python3
            names = '''$(params.names)'''.split()
            total = len(names)
            print(total)
        - name: folded
          image: python
          script: >
            #!/usr/bin/env python3
            print(1)
    """)


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(TASK.splitlines(), 1) if text in line)


def test_a_python_shebang_names_the_interpreter_and_its_options():
    assert interpreter("#!/usr/bin/env python3\nprint(1)") == ("python3", [])
    assert interpreter("\n  #!/usr/bin/python3 -u\n") == ("/usr/bin/python3", ["-u"])
    assert interpreter("#!/usr/bin/env -S python3.12 -X dev\n") == ("python3.12", ["-X", "dev"])
    assert interpreter("#!/bin/bash\necho") is None
    assert interpreter("echo python") is None
    assert interpreter(None) is None


def test_script_lines_map_to_file_lines_through_a_substitution_that_adds_lines():
    run = load_text(TASK, file="t.yaml")
    step = run.task.steps[0]
    values = {"$(params.names)": "a\nbb\nccc"}

    def substitute(text: str) -> str:
        for ref, value in values.items():
            text = text.replace(ref, value)
        return text

    smap = map_script(step, TASK, substitute)
    # the file: the shebang (the blank line before it is dropped), then names = '''a / bb /
    # ccc'''.split() on three lines, then total, then print
    assert smap.to_file(line_of("#!/usr/bin/env")) == 1
    assert smap.to_file(line_of("names = ")) == 2
    assert smap.to_file(line_of("total = ")) == 5
    assert smap.to_file(line_of("print(total)")) == 6
    assert smap.to_yaml(5) == line_of("total = ")
    assert smap.to_yaml(3) == line_of("names = ")  # a line the substitution added
    assert smap.to_yaml(7) is None and smap.to_file(line_of("- name: py")) is None


def test_a_script_that_is_not_a_literal_block_has_no_line_map():
    run = load_text(TASK, file="t.yaml")
    assert "literal block" in yaml_lines(run.task.steps[1], TASK)
    assert yaml_lines(run.task.steps[0], TASK) == (line_of("script: |") + 1,
                                                   line_of("print(total)"))
