"""What Tekton would reject: each problem names the thing, points at its line and gives a fix."""

from __future__ import annotations

import pytest

from tekton_debug.errors import ValidationError
from tekton_debug.tekton.loader import load_text
from tekton_debug.tekton.validation import diagnose

from .helpers import only_problem, problems_of, task, yaml_text


def run_with(debug: str, steps: str = "") -> str:
    steps = steps or """
          - name: build
            image: alpine
            script: echo
          - image: alpine
            script: echo
        """
    return yaml_text(f"""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {{name: r}}
        spec:
          debug:
        {debug}
          taskSpec:
            steps:
        """) + yaml_text(steps).replace("\n", "\n      ").join(["      ", ""]).rstrip(" ")


# ---- steps -----------------------------------------------------------------------------------

def test_invalid_step_name_is_reported_at_the_name_with_a_suggestion():
    p = only_problem(task("""
        - name: Build_1
          image: alpine
          script: echo
        """), "step name")
    assert p.message == ('step name "Build_1" is invalid: a step name must be a DNS-1123 label '
                         "(lowercase letters, digits and '-')")
    assert p.fix == 'rename it, e.g. "build-1"'
    assert (p.file, p.line, p.column) == ("t.yaml", 7, 13)
    assert str(p).startswith("t.yaml:7:13: step name")


def test_duplicate_step_names_point_at_the_second():
    p = only_problem(task("""
        - {name: build, image: alpine, script: echo}
        - {name: build, image: alpine, script: echo}
        """), "used twice")
    assert p.message == 'step name "build" is used twice (steps 0 and 1)'
    assert p.line == 8 and p.fix == 'rename one of them, e.g. "build-2"'


def test_script_and_command_together_are_rejected():
    p = only_problem(task("""
        - name: s
          image: alpine
          command: [sh]
          script: echo
        """), "script and command")
    assert p.line == 10 and "remove command" in p.fix


def test_command_from_step_template_conflicts_with_a_script():
    p = only_problem(task("""
        - {name: s, script: echo}
        """, extra="""
        stepTemplate:
          image: alpine
          command: [sh]
        """), "script and stepTemplate's command")
    assert p.line == 10


def test_task_without_steps():
    p = only_problem(task("[]").replace("  steps:\n    []", "  steps: []"), "no steps")
    assert p.message == "the Task has no steps" and p.line == 6 and "at least one step" in p.fix


def test_task_without_steps_key():
    p = only_problem("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n"
                     "  description: nothing\n", "no steps")
    assert p.line == 5


def test_steps_of_the_wrong_type():
    p = only_problem(task("").replace("  steps:\n", "  steps: foo\n"), "must be")
    assert p.message == "spec.steps must be a list of steps, not a string"
    assert p.line == 6 and "list" in p.fix


def test_step_without_image():
    p = only_problem(task("- {name: s, script: echo}"), "has no image")
    assert p.message == 'step "s" has no image' and p.line == 7 and "image: alpine" in p.fix


def test_bad_on_error_value():
    p = only_problem(task("- {name: s, image: alpine, script: echo, onError: ignore}"), "onError")
    assert p.message == "step \"s\": onError 'ignore' is not valid"
    assert p.fix == 'use "continue" or "stopAndFail"' and p.line == 7


def test_on_error_may_be_a_param_reference():
    run = load_text(task("- {name: s, image: alpine, script: echo, onError: $(params.mode)}",
                         extra="params: [{name: mode, default: continue}]"), "t.yaml")
    assert run.task.steps[0].on_error == "$(params.mode)"


def test_bad_step_timeout():
    p = only_problem(task("- {name: s, image: alpine, script: echo, timeout: 5 minutes}"),
                     "timeout")
    assert "not a valid duration" in p.message and '"90s"' in p.fix


def test_unknown_step_field_suggests_the_close_one():
    p = only_problem(task("""
        - name: s
          image: alpine
          scirpt: echo
        """), "unknown field")
    assert p.message == 'unknown field "scirpt" in a step'
    assert p.fix == 'did you mean "script"?' and (p.line, p.column) == (9, 7)


def test_v1_step_resources_must_be_compute_resources():
    p = only_problem(task("- {name: s, image: alpine, script: echo, resources: {}}"), "resources")
    assert "computeResources" in p.fix


def test_env_value_must_be_a_string():
    p = only_problem(task("""
        - name: s
          image: alpine
          script: echo
          env:
            - {name: PORT, value: 8080}
        """), "PORT")
    assert "accepts only strings" in p.message and p.fix == 'quote it: value: "8080"'
    assert p.line == 11


# ---- params, results, workspaces references --------------------------------------------------

def test_undeclared_param_reference_points_into_the_script():
    p = only_problem(task("""
        - name: s
          image: alpine
          script: |
            echo start
            echo $(params.nme)
        """, extra="params: [{name: name}]"), "not declared")
    assert p.message == '$(params.nme) uses param "nme", which is not declared'
    assert (p.line, p.column) == (12, 14)
    assert p.fix.startswith('did you mean "name"?')


@pytest.mark.parametrize("ref", ['$(params["missing"])', "$(params.missing[*])",
                                 "$(params.missing[0])"])
def test_undeclared_param_in_any_spelling(ref):
    p = only_problem(task(f"- {{name: s, image: alpine, args: ['{ref}']}}"), "not declared")
    assert '"missing"' in p.message and "declare it under params" in p.fix


def test_unknown_object_key():
    p = only_problem(task("- {name: s, image: alpine, script: 'echo $(params.obj.colour)'}", extra="""
        params:
          - name: obj
            type: object
            properties: {color: {type: string}}
            default: {color: red}
        """), "has no key")
    assert p.message == '$(params.obj.colour): object param "obj" has no key "colour"'
    assert 'did you mean "color"?' in p.fix


def test_whole_array_inside_a_string_arg():
    p = only_problem(task("- {name: s, image: alpine, args: ['-f $(params.files[*])']}",
                          extra="params: [{name: files, type: array}]"), "stand alone")
    assert "- $(params.files[*])" in p.fix


def test_whole_array_in_a_script():
    p = only_problem(task("- {name: s, image: alpine, script: 'ls $(params.files[*])'}",
                          extra="params: [{name: files, type: array}]"), "cannot be used in script")
    assert "$(params.files[0])" in p.fix


def test_undeclared_result_is_an_error_and_undeclared_workspace_a_warning():
    problems = diagnose(task("""
        - name: s
          image: alpine:3
          script: |
            date > $(results.when.path)
            ls $(workspaces.src.path)
        """), "t.yaml", search=False)
    assert [(p.severity, p.message) for p in problems] == [
        ("error", '$(results.when.path) uses result "when", which is not declared'),
        ("warning", '$(workspaces.src.path) uses workspace "src", which is not declared; the '
                    "step would see the text as written")]
    assert [p.line for p in problems] == [10, 11]
    assert problems[0].fix == "declare it under results: `- name: when`"


def test_unknown_context_variable():
    p = only_problem(task("- {name: s, image: alpine, script: 'echo $(context.taskRun.owner)'}"),
                     "context variable")
    assert "$(context.taskRun.name)" in p.fix


def test_invalid_param_type():
    p = only_problem(task("- {name: s, image: alpine, script: echo}",
                          extra="params: [{name: p, type: strng}]"), "param type")
    assert p.message == "param \"p\" has type 'strng', which is not a param type"
    assert p.line == 6 and p.fix == 'use "string", "array" or "object"'


def test_default_of_the_wrong_type():
    p = only_problem(task("- {name: s, image: alpine, script: echo}", extra="""
        params:
          - name: p
            type: array
            default: one
        """), "default")
    assert p.message == 'param "p" is of type array but its default is a string'
    assert p.line == 9 and '["a", "b"]' in p.fix


def test_object_param_needs_properties():
    p = only_problem(task("- {name: s, image: alpine, script: echo}",
                          extra="params: [{name: o, type: object}]"), "properties")
    assert "properties:" in p.fix


def test_duplicate_param_names():
    p = only_problem(task("- {name: s, image: alpine, script: echo}",
                          extra="params: [{name: p}, {name: p}]"), "twice")
    assert p.message == 'param name "p" is used twice'


# ---- TaskRun ---------------------------------------------------------------------------------

def test_taskrun_param_not_declared_by_the_referenced_task():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef: {name: t}
          params:
            - {name: verison, value: "1"}
        ---
        """) + task("- {name: s, image: alpine:3, script: echo}", extra="params: [{name: version}]")
    (p,) = diagnose(text, "t.yaml", search=False)
    assert p.message == 'TaskRun param "verison" is not declared by Task "t"; Tekton ignores it'
    assert p.severity == "warning"
    assert p.line == 7 and "(declared: version)" in p.fix


def test_propagated_param_used_by_an_embedded_task_is_accepted():
    run = load_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          params: [{name: who, value: me}]
          taskSpec:
            steps:
              - {name: s, image: alpine, script: "echo $(params.who)"}
        """), "t.yaml")
    assert run.params == {"who": "me"}


def test_taskrun_param_value_of_the_wrong_type():
    p = only_problem(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          params: [{name: files, value: one}]
          taskSpec:
            params: [{name: files, type: array}]
            steps:
              - {name: s, image: alpine, args: ["$(params.files[*])"]}
        """), "declares it as array")
    assert p.line == 5 and "value: [a, b]" in p.fix


def test_on_failure_accepts_only_enabled():
    p = only_problem(run_with("    breakpoints: {onFailure: true}"), "onFailure")
    assert p.message == "onFailure 'true' is not valid: the only value is \"enabled\""
    assert p.line == 6 and p.fix == "write `onFailure: enabled`"


def test_old_breakpoint_list_accepts_only_on_failure():
    p = only_problem(run_with("    breakpoint: [onFailure, beforeStep]"), "breakpoint entry")
    assert p.message == ("breakpoint entry 'beforeStep' is not valid: the only entry is "
                         '"onFailure"')
    assert (p.line, p.column) == (6, 29)


def test_before_steps_without_on_failure_is_valid_as_in_current_tekton():
    """tektoncd/pipeline#9719: onFailure is optional; the language server warns of older ones."""
    run = load_text(run_with("    breakpoints: {beforeSteps: [build]}"), file="t.yaml")
    assert run.debug.before_steps == ["build"] and not run.debug.on_failure


def test_before_steps_unknown_name_lists_the_steps():
    p = only_problem(run_with("    breakpoints: {onFailure: enabled, beforeSteps: [biuld]}"),
                     "does not have")
    assert p.message == 'beforeSteps names step "biuld", which the Task does not have'
    assert p.fix == 'did you mean "build"? the steps are: build'
    assert p.line == 6


def test_before_steps_duplicate_name():
    p = only_problem(run_with("    breakpoints: {onFailure: enabled, beforeSteps: [build, build]}"),
                     "listed twice")
    assert p.message == 'step "build" is listed twice in beforeSteps'


def test_before_steps_cannot_name_an_unnamed_step():
    p = only_problem(run_with("    breakpoints: {onFailure: enabled, beforeSteps: [unnamed-1]}"),
                     "no name")
    assert p.message == "step 1 has no name, and Tekton cannot pause before an unnamed step"
    assert p.fix.startswith('name the step "unnamed-1"')


def test_taskrun_needs_task_ref_or_task_spec():
    p = only_problem("apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: r}\nspec:\n"
                     "  timeout: 1h\n", "neither")
    assert "taskRef" in p.fix and p.line == 4


def test_bad_taskrun_timeout():
    p = only_problem(run_with("    breakpoints: {onFailure: enabled}").replace(
        "spec:\n", "spec:\n  timeout: soon\n"), "duration")
    assert p.line == 5


# ---- documents -------------------------------------------------------------------------------

def test_a_pipeline_given_to_the_task_loader_says_to_run_the_pipeline_file():
    p = only_problem("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec: {}\n",
                     "kind")
    assert p.message == "kind 'Pipeline' is not supported here: tekton-debug runs a Task or a TaskRun"
    assert p.line == 2 and "run the Pipeline or PipelineRun file itself" in p.fix


def test_wrong_api_version():
    p = only_problem(task("- {name: s, image: alpine, script: echo}", api="tekton.dev/v1alpha1"),
                     "apiVersion")
    assert p.line == 1 and p.fix == "write `apiVersion: tekton.dev/v1`"


def test_missing_api_version_and_name():
    problems = problems_of("kind: Task\nmetadata: {}\nspec:\n  steps:\n"
                           "    - {name: s, image: alpine, script: echo}\n")
    assert [p.message for p in problems] == ["apiVersion is missing",
                                             "metadata.name is missing: a Task needs a name"]


def test_missing_spec():
    p = only_problem("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\n", "spec")
    assert p.message == "spec is missing: a Task needs a spec"


def test_unknown_top_level_field():
    p = only_problem("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nsteps: []\n"
                     "spec:\n  steps:\n    - {name: s, image: alpine, script: echo}\n",
                     "unknown field")
    assert p.line == 4


def test_all_problems_are_reported_in_line_order():
    with pytest.raises(ValidationError) as err:
        load_text(task("""
            - {name: Bad_One, image: alpine, script: echo, onError: never}
            - {name: s, script: echo}
            """), "t.yaml")
    lines = [p.line for p in err.value.problems]
    assert len(lines) == 3 and lines == sorted(lines)
    assert str(err.value).count("fix:") == 3


def test_duplicate_keys_are_problems():
    p = only_problem(task("- {name: s, image: alpine, image: busybox, script: echo}"),
                     "written twice")
    assert p.line == 7
