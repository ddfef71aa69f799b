"""Loading Tasks and TaskRuns: the debug spellings, taskRef, stepTemplate, steps and positions."""

from __future__ import annotations

import os
import shutil

import pytest

from tekton_debug.errors import UserError, ValidationError
from tekton_debug.tekton.loader import load_file, load_object, load_text

from .helpers import EXAMPLES, yaml_text

TASKRUN_HEAD = ("apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: run-1\n"
                "spec:\n")
EMBEDDED = yaml_text("""
      taskSpec:
        steps:
          - name: build
            image: alpine
            script: echo build
          - name: test
            image: alpine
            script: exit 1
    """).replace("\n", "\n  ").rstrip(" ")
EMBEDDED = "  " + EMBEDDED


def load(text: str, **kw):
    return load_text(yaml_text(text), file=kw.pop("file", "t.yaml"), **kw)


# ---- the examples ----------------------------------------------------------------------------

def test_failing_task_steps_stand_at_their_lines():
    path = os.path.join(EXAMPLES, "failing-task.yaml")
    lines = open(path).read().splitlines()
    run = load_file(path)
    assert [s.name for s in run.task.steps] == ["build", "test", "publish"]
    for step in run.task.steps:
        assert lines[step.pos.line - 1].strip() == f"- name: {step.name}"
        assert step.pos.file == path
    assert [(s.pos.line, s.pos.end_line) for s in run.task.steps] == [(15, 22), (23, 32), (33, 37)]
    test = run.task.steps[1]
    assert lines[test.script_pos.line - 1].strip() == "#!/bin/sh"
    assert lines[test.script_pos.line - 2].strip() == "script: |"
    assert run.task.step_at_line(28) is test


def test_task_file_yields_a_taskrun_named_after_the_task():
    run = load_file(os.path.join(EXAMPLES, "failing-task.yaml"))
    assert run.name == "failing-task-run"
    assert run.task_name == "failing-task"
    assert run.debug is None
    assert run.task.params[0].name == "report" and run.task.params[0].default == "build/report.txt"
    assert run.source.text.startswith("# A Task whose middle step fails")


@pytest.mark.parametrize("name", ["passing-task.yaml", "failing-task.yaml",
                                  "params-results-workspace.yaml", "before-steps-taskrun.yaml",
                                  "taskrun-with-debug.yaml", "taskrun-ref/taskrun.yaml",
                                  "taskrun-ref/task.yaml"])
def test_every_example_loads(name):
    run = load_file(os.path.join(EXAMPLES, name))
    assert run.task.steps and all(s.image for s in run.task.steps)


def test_params_results_workspace_example_declares_each_kind():
    run = load_file(os.path.join(EXAMPLES, "params-results-workspace.yaml"))
    assert [(p.name, p.type) for p in run.task.params] == [
        ("version", "string"), ("flags", "array"), ("target", "object")]
    assert run.task.params[2].properties == {"os": {"type": "string"}, "arch": {"type": "string"}}
    assert [r.name for r in run.task.results] == ["artifact", "checksum"]
    assert [w.name for w in run.task.workspaces] == ["source"]
    assert run.task.workspaces[0].path == "/workspace/source"


def test_before_steps_example_pauses_before_build():
    run = load_file(os.path.join(EXAMPLES, "before-steps-taskrun.yaml"))
    assert run.debug.on_failure and run.debug.before_steps == ["build"]
    assert run.debug.spelling == "breakpoints"
    assert run.params == {"greeting": "hello"}


# ---- the three debug spellings ---------------------------------------------------------------

def test_seed_spelling_breakpoint_on_failure_true():
    run = load(TASKRUN_HEAD + "  breakpoint:\n    onFailure: true\n" + EMBEDDED)
    assert (run.debug.on_failure, run.debug.spelling) == (True, "seed")
    assert (run.debug.pos.line, run.debug.pos.end_line) == (6, 7)


def test_old_spelling_debug_breakpoint_list():
    run = load(TASKRUN_HEAD + "  debug:\n    breakpoint: [onFailure]\n" + EMBEDDED)
    assert (run.debug.on_failure, run.debug.spelling) == (True, "breakpoint")
    assert run.debug.before_steps == []


def test_current_spelling_debug_breakpoints_with_before_steps():
    run = load(TASKRUN_HEAD + "  debug:\n    breakpoints:\n      onFailure: enabled\n"
               "      beforeSteps: [test]\n" + EMBEDDED)
    assert (run.debug.on_failure, run.debug.spelling) == (True, "breakpoints")
    assert run.debug.before_steps == ["test"]


def test_taskrun_without_debug_has_no_debug_spec():
    run = load(TASKRUN_HEAD + EMBEDDED)
    assert run.debug is None
    assert run.name == "run-1" and run.task_ref is None


# ---- TaskRun fields --------------------------------------------------------------------------

def test_taskrun_fields_are_read():
    run = load("""
        apiVersion: tekton.dev/v1beta1
        kind: TaskRun
        metadata:
          generateName: build-
          namespace: ci
        spec:
          serviceAccountName: builder
          timeout: 1h30m
          params:
            - {name: n, value: 3}
            - {name: list, value: [a, b]}
          workspaces:
            - name: src
              emptyDir: {}
          taskSpec:
            params:
              - {name: n}
              - {name: list, type: array}
            workspaces:
              - {name: src, mountPath: /src, readOnly: true}
            steps:
              - {name: s, image: alpine, script: echo}
        """)
    assert run.name.startswith("build-") and len(run.name) == len("build-") + 5
    assert run.namespace == "ci" and run.service_account == "builder"
    assert run.timeout == 5400 and run.api_version == "tekton.dev/v1beta1"
    assert run.params == {"n": "3", "list": ["a", "b"]}
    assert run.workspaces == [{"name": "src", "emptyDir": {}}]
    assert run.task.workspaces[0].path == "/src" and run.task.workspaces[0].read_only


def test_v1beta1_step_resources_is_accepted():
    run = load("""
        apiVersion: tekton.dev/v1beta1
        kind: Task
        metadata: {name: old}
        spec:
          steps:
            - name: s
              image: alpine
              resources: {limits: {cpu: 1}}
              script: echo
        """)
    assert run.task.steps[0].raw["resources"] == {"limits": {"cpu": 1}}


def test_step_fields_are_read():
    run = load("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps:
            - name: s
              image: alpine
              command: [sh, -c]
              args: ["echo $A", "x"]
              workingDir: /src
              onError: continue
              timeout: 90s
              envFrom:
                - configMapRef: {name: cm}
              env:
                - name: A
                  value: "1"
                - name: TOKEN
                  valueFrom:
                    secretKeyRef: {name: s, key: token}
            - image: alpine
        """)
    s, unnamed = run.task.steps
    assert (s.command, s.args, s.working_dir, s.on_error, s.timeout) == (
        ["sh", "-c"], ["echo $A", "x"], "/src", "continue", 90.0)
    assert s.env_from == [{"configMapRef": {"name": "cm"}}]
    assert [(e.name, e.value, e.secret) for e in s.env] == [("A", "1", False),
                                                             ("TOKEN", None, True)]
    assert s.env[1].pos.line == 18
    assert s.script_pos is None
    assert unnamed.name is None and unnamed.debug_name == "unnamed-1"
    assert unnamed.container == "step-unnamed-1"


def test_flow_style_script_position_is_the_value_itself():
    run = load("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps:
            - {name: s, image: alpine, script: "echo hi"}
        """)
    step = run.task.steps[0]
    assert (step.pos.line, step.pos.end_line) == (6, 6)
    assert step.script_pos.line == 6


# ---- stepTemplate ----------------------------------------------------------------------------

def test_step_template_is_merged_into_each_step():
    run = load("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          stepTemplate:
            image: alpine
            workingDir: /src
            env:
              - {name: A, value: template}
              - {name: B, value: template}
          steps:
            - name: one
              script: echo
              env:
                - {name: B, value: step}
                - {name: C, value: step}
            - name: two
              image: busybox
              script: echo
        """)
    one, two = run.task.steps
    assert one.image == "alpine" and two.image == "busybox"
    assert one.working_dir == two.working_dir == "/src"
    assert {e.name: e.value for e in one.env} == {"A": "template", "B": "step", "C": "step"}
    assert {e.name: e.value for e in two.env} == {"A": "template", "B": "template"}
    assert run.task.step_template["image"] == "alpine"


# ---- taskRef ---------------------------------------------------------------------------------

REF_RUN = """
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata: {name: r}
    spec:
      taskRef: {name: lib-task}
      params:
        - {name: p, value: given}
    """
LIB_TASK = """
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: lib-task}
    spec:
      params: [{name: p}]
      steps:
        - {name: only, image: alpine, script: "echo $(params.p)"}
    """


def test_task_ref_found_in_the_same_file():
    run = load_text(yaml_text(REF_RUN) + "---\n" + yaml_text(LIB_TASK), file="t.yaml")
    assert run.task_ref == "lib-task" and run.task_name == "lib-task"
    assert run.task.steps[0].pos.line == 15
    assert run.source.file == "t.yaml"


def test_task_ref_found_in_another_file_of_the_directory(tmp_path):
    (tmp_path / "a-broken.yaml").write_text("key: [unclosed\n")
    (tmp_path / "lib.yml").write_text(yaml_text(LIB_TASK))
    (tmp_path / "run.yaml").write_text(yaml_text(REF_RUN))
    run = load_file(str(tmp_path / "run.yaml"))
    assert run.task.steps[0].name == "only"
    assert run.task.steps[0].pos.file == str(tmp_path / "lib.yml")
    assert run.source.file == str(tmp_path / "lib.yml")
    assert run.source.text == yaml_text(LIB_TASK)


def test_task_ref_searches_the_given_directory(tmp_path):
    (tmp_path / "lib.yaml").write_text(yaml_text(LIB_TASK))
    run = load_text(yaml_text(REF_RUN), file=None, search_dir=str(tmp_path))
    assert run.task_name == "lib-task"


def test_taskrun_ref_example_finds_its_task_in_the_next_file(tmp_path):
    shutil.copytree(os.path.join(EXAMPLES, "taskrun-ref"), tmp_path / "ref")
    run = load_file(str(tmp_path / "ref" / "taskrun.yaml"))
    assert run.task_name == "lint-and-test" and run.params == {"package": "tekton-debug"}


def test_missing_task_ref_says_which_files_were_searched(tmp_path):
    (tmp_path / "other.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "run.yaml").write_text(yaml_text(REF_RUN))
    with pytest.raises(ValidationError) as err:
        load_file(str(tmp_path / "run.yaml"))
    (problem,) = err.value.problems
    assert 'Task "lib-task" (taskRef) was not found' in problem.message
    assert str(tmp_path / "run.yaml") in problem.message and "other.yaml" in problem.message
    assert problem.line == 5
    assert "taskSpec" in problem.fix


def test_bundle_task_ref_is_rejected_clearly():
    text = """
        apiVersion: tekton.dev/v1beta1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef:
            name: t
            bundle: registry.example.com/tasks:1
        """
    with pytest.raises(ValidationError) as err:
        load(text)
    (problem,) = err.value.problems
    assert "bundle" in problem.message and "not supported" in problem.message
    assert problem.line == 7


def test_resolver_task_ref_without_a_resolver_to_ask_is_refused_where_it_stands():
    with pytest.raises(ValidationError) as err:
        load("""
            apiVersion: tekton.dev/v1
            kind: TaskRun
            metadata: {name: r}
            spec:
              taskRef:
                resolver: git
            """)
    assert "not resolved here" in err.value.first.message and err.value.first.line == 6


# ---- choosing the document -------------------------------------------------------------------

def test_taskrun_is_preferred_to_tasks_and_the_first_taskrun_wins():
    second_run = yaml_text(REF_RUN).replace("name: r}", "name: second}")
    text = yaml_text(LIB_TASK) + "---\n" + yaml_text(REF_RUN) + "---\n" + second_run
    run = load_text(text, file="t.yaml")
    assert run.name == "r"


def test_first_task_wins_when_there_is_no_taskrun():
    other = yaml_text(LIB_TASK).replace("lib-task", "other-task")
    run = load_text(yaml_text(LIB_TASK) + "---\n" + other, file="t.yaml")
    assert run.task_name == "lib-task"


def test_empty_file_is_a_user_error():
    with pytest.raises(UserError) as err:
        load_text("# nothing\n", file="e.yaml")
    assert "no YAML document" in err.value.first.message


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as err:
        load_file(str(tmp_path / "nope.yaml"))
    assert "no such file" in err.value.first.message


# ---- already parsed objects ------------------------------------------------------------------

def test_load_object_reads_an_api_object_without_positions():
    obj = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
           "metadata": {"name": "from-api", "namespace": "ns"},
           "spec": {"debug": {"breakpoints": {"onFailure": "enabled"}},
                    "taskSpec": {"steps": [{"name": "a", "image": "alpine", "script": "true"}]}}}
    run = load_object(obj)
    assert run.name == "from-api" and run.namespace == "ns" and run.debug.on_failure
    assert run.task.steps[0].pos is None and run.source is None


def test_load_object_reports_problems_without_lines():
    obj = {"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "t"},
           "spec": {"steps": [{"name": "Bad Name", "image": "alpine"}]}}
    with pytest.raises(ValidationError) as err:
        load_object(obj, file="cluster")
    assert err.value.first.line is None and "Bad Name" in err.value.first.message
