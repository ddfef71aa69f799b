"""diagnose: the language server's view of a file; it reports, it never raises."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from tekton_debug.tekton.validation import diagnose

from .helpers import EXAMPLES, task, yaml_text


def test_examples_have_no_problems():
    for name in ("passing-task.yaml", "failing-task.yaml", "params-results-workspace.yaml",
                 "before-steps-taskrun.yaml", "taskrun-with-debug.yaml",
                 "taskrun-ref/task.yaml", "taskrun-ref/taskrun.yaml"):
        path = os.path.join(EXAMPLES, name)
        assert diagnose(open(path).read(), path) == [], name


def test_syntax_error_becomes_a_problem():
    (p,) = diagnose("kind: Task\nspec:\n  steps: [\n", "x.yaml")
    assert p.message.startswith("YAML syntax error") and p.file == "x.yaml" and p.line


def test_every_task_and_taskrun_in_the_file_is_checked():
    text = task("- {name: A, image: alpine:3, script: echo}") + "---\n" + \
        task("- {name: b, script: echo}")
    problems = diagnose(text, "x.yaml")
    assert [p.line for p in problems] == [7, 15]


def test_other_kinds_are_ignored():
    assert diagnose("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "c.yaml") == []


def test_taskrun_is_checked_against_a_task_in_the_same_text():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef: {name: t}
          debug:
            breakpoints: {onFailure: enabled, beforeSteps: [nope]}
        ---
        """) + task("- {name: s, image: alpine:3, script: echo}")
    (p,) = diagnose(text, "x.yaml")
    assert p.line == 7 and "the steps are: s" in p.fix


def test_taskrun_with_a_task_elsewhere_is_checked_alone_without_search():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef: {name: elsewhere}
          debug:
            breakpoints: {onFailure: enabled, beforeSteps: [any]}
        """)
    assert diagnose(text, "x.yaml", search=False) == []


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("abk:-[]{}\"' \n\t$()#&*!|>.,0123456789")),
               max_size=200))
def test_diagnose_never_raises_on_random_text(text):
    problems = diagnose(text, "r.yaml")
    assert isinstance(problems, list)


@settings(max_examples=200)
@given(st.data())
def test_diagnose_never_raises_on_mutated_tasks(data):
    text = open(os.path.join(EXAMPLES, "params-results-workspace.yaml")).read()
    lines = text.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    lines[i] = data.draw(st.sampled_from(["", "  - x", "steps: foo", "    default: [1, {a: 2}]",
                                          "      script: $(params.", "  params: 3", "kind: 7",
                                          "      - name: [x]", "      env: [{value: 1}]",
                                          lines[i][: len(lines[i]) // 2]]))
    assert isinstance(diagnose("\n".join(lines), "m.yaml"), list)
