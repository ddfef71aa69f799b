"""Remote references in the model: what the loader asks its resolver, and what it does with the
answer (the resolvers themselves are tested in tests/resolution)."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError, ValidationError
from tekton_debug.resolution.reference import Fixed
from tekton_debug.tekton.loader import load_text
from tekton_debug.tekton.references import substitute_params

from .helpers import yaml_text

REMOTE_TASK = yaml_text("""
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: greet}
    spec:
      params:
        - {name: who, default: world}
      steps:
        - name: hello
          image: busybox
          script: echo hello $(params.who)
    """)

RUN = yaml_text("""
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata: {name: r, namespace: team}
    spec:
      params:
        - {name: who, value: tasks/greet.yaml}
      taskRef:
        resolver: git
        params:
          - {name: url, value: "file:///srv/tasks.git"}
          - {name: revision, value: "v1"}
          - {name: pathInRepo, value: "$(params.who)"}
    """)

KEY = Fixed.key("git", url="file:///srv/tasks.git", revision="v1", pathInRepo="tasks/greet.yaml")


def test_resolver_params_get_the_runs_params_substituted_before_asking():
    resolver = Fixed({KEY: REMOTE_TASK})
    run = load_text(RUN, "run.yaml", resolver=resolver)
    (asked,) = resolver.asked
    assert asked.params["pathInRepo"] == "tasks/greet.yaml"
    assert (asked.file, asked.line, asked.resolver, asked.namespace) == ("run.yaml", 8, "git", "team")
    assert [s.name for s in run.task.steps] == ["hello"]
    assert run.task_name == "greet" and run.params == {"who": "tasks/greet.yaml"}
    assert run.task_origin == "git (given)"


def test_params_given_to_the_run_override_the_taskruns_in_resolver_params():
    other = Fixed.key("git", url="file:///srv/tasks.git", revision="v1", pathInRepo="x.yaml")
    resolver = Fixed({other: REMOTE_TASK})
    load_text(RUN, "run.yaml", resolver=resolver, params={"who": "x.yaml"})
    assert resolver.asked[0].params["pathInRepo"] == "x.yaml"


def test_substitution_reads_strings_array_elements_object_keys_and_whole_arrays():
    values = {"s": "a", "arr": ["x", "y"], "obj": {"k": "v"}}
    out = substitute_params({"one": "$(params.s)/$(params.arr[1])/$(params.obj.k)",
                             "whole": "$(params.arr[*])", "ctx": "$(context.taskRun.name)",
                             "unknown": "$(params.nope)"},
                            values, {"context.taskRun.name": "run-1"})
    assert out == {"one": "a/y/v", "whole": ["x", "y"], "ctx": "run-1",
                   "unknown": "$(params.nope)"}


def test_a_resolver_failure_reaches_the_caller_located_at_the_reference():
    with pytest.raises(UserError) as err:
        load_text(RUN, "run.yaml", resolver=Fixed({}))
    problem = err.value.first
    assert (problem.file, problem.line) == ("run.yaml", 8)
    assert "resolver git" in problem.message and "not found" in problem.message


def test_what_resolves_to_something_else_than_one_task_is_refused():
    two = REMOTE_TASK + "---\n" + REMOTE_TASK.replace("greet", "other")
    with pytest.raises(UserError) as err:
        load_text(RUN, "run.yaml", resolver=Fixed({KEY: two}))
    assert "not one Task" in err.value.first.message and err.value.first.line == 8
    with pytest.raises(UserError) as err:
        load_text(RUN, "run.yaml", resolver=Fixed({KEY: "kind: ConfigMap\n"}))
    assert "ConfigMap" in err.value.first.message


def test_the_remote_task_is_checked_with_the_run_as_a_local_one_is():
    broken = REMOTE_TASK.replace("image: busybox", "image: [busybox]")
    with pytest.raises(ValidationError) as err:
        load_text(RUN, "run.yaml", resolver=Fixed({KEY: broken}))
    assert any("image" in p.message for p in err.value.problems)


def test_resolver_params_and_a_name_together_are_refused_as_tekton_does():
    text = RUN.replace("resolver: git", "name: greet\n    resolver: git")
    with pytest.raises(ValidationError) as err:
        load_text(text, "run.yaml", resolver=Fixed({KEY: REMOTE_TASK}))
    assert "both name and resolver params" in err.value.first.message
