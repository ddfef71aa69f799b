"""StepActions: a step that uses one runs what the action says, with the params it passes."""

from __future__ import annotations

import pytest

from tekton_debug.errors import ValidationError
from tekton_debug.tekton.loader import load_file, load_text
from tekton_debug.tekton.params import resolve_params
from tekton_debug.tekton.substitution import substitute_step, substitution_context
from tekton_debug.tekton.validation import diagnose

from .helpers import yaml_text

ACTION = """
    apiVersion: tekton.dev/v1beta1
    kind: StepAction
    metadata: {name: greet}
    spec:
      params:
        - {name: who, default: world}
        - {name: words, type: array, default: [a, b]}
        - name: place
          type: object
          properties: {city: {type: string}, country: {type: string}}
          default: {city: Paris, country: France}
        - {name: loud, default: "$(params.who)!"}
      results:
        - {name: said}
      image: alpine:3.20
      env:
        - {name: WHO, value: $(params.who)}
        - {name: CITY, value: $(params.place.city)}
        - {name: COUNTRY, value: $(params.place.country)}
        - {name: LOUD, value: $(params.loud)}
      args: ["$(params.words[*])", "$(params.words[0])"]
      script: |
        #!/bin/sh
        echo "hello $WHO" | tee $(step.results.said.path)
    """


def run_of(task_spec: str, run_params: str = "[]", action: str = ACTION):
    text = yaml_text(action) + "---\n" + yaml_text(f"""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {{name: r}}
        spec:
          params: {run_params}
          taskSpec:
        """) + "\n".join("    " + line for line in yaml_text(task_spec).splitlines()) + "\n"
    return load_text(text, file="t.yaml")


def env_of(step) -> dict:
    return {e.name: e.value for e in step.env}


def test_a_step_with_ref_runs_the_action_with_its_defaults():
    run = run_of("""
        steps:
          - name: hi
            ref: {name: greet}
        """)
    (step,) = run.task.steps
    assert step.name == "hi" and step.image == "alpine:3.20"
    assert env_of(step) == {"WHO": "world", "CITY": "Paris", "COUNTRY": "France",
                            "LOUD": "world!"}
    assert step.args == ["a", "b", "a"]
    assert step.script.startswith("#!/bin/sh\necho")
    assert [r.name for r in step.results] == ["said"]


def test_params_passed_by_the_step_replace_the_defaults_and_objects_merge_key_by_key():
    run = run_of("""
        steps:
          - name: hi
            ref: {name: greet}
            params:
              - {name: who, value: Ada}
              - {name: words, value: [x, y, z]}
              - {name: place, value: {city: Lyon}}
        """)
    step = run.task.steps[0]
    assert env_of(step) == {"WHO": "Ada", "CITY": "Lyon", "COUNTRY": "France", "LOUD": "Ada!"}
    assert step.args == ["x", "y", "z", "x"]


def test_task_params_passed_through_are_replaced_when_the_run_starts():
    run = run_of("""
        params:
          - {name: names, type: array}
          - name: where
            properties: {city: {type: string}}
        steps:
          - name: hi
            ref: {name: greet}
            params:
              - {name: who, value: $(params.person)}
              - {name: words, value: "$(params.names[*])"}
              - {name: place, value: "$(params.where[*])"}
        """, run_params="[{name: person, value: Grace}, {name: names, value: [p, q]}, "
                        "{name: where, value: {city: Oslo}}]")
    ctx = substitution_context(run, resolve_params(run))
    step = substitute_step(run.task.steps[0], ctx)
    # the Task's object has no "country": the action's default fills it, as in Tekton
    assert env_of(step) == {"WHO": "Grace", "CITY": "Oslo", "COUNTRY": "France",
                            "LOUD": "Grace!"}
    assert step.args == ["p", "q", "p"]


def test_step_results_path_is_the_steps_own_results_directory():
    run = run_of("steps: [{name: hi, ref: {name: greet}}]")
    ctx = substitution_context(run, resolve_params(run), steps_dir="/x/steps")
    step = substitute_step(run.task.steps[0], ctx)
    assert "tee /x/steps/step-hi/results/said" in step.script


def test_step_template_applies_to_the_resolved_step_and_the_action_wins():
    run = run_of("""
        stepTemplate:
          env: [{name: WHO, value: template}, {name: EXTRA, value: "1"}]
          workingDir: /src
        steps: [{name: hi, ref: {name: greet}}]
        """)
    env = env_of(run.task.steps[0])
    assert env["WHO"] == "world" and env["EXTRA"] == "1"


def test_the_step_carries_the_actions_file_and_line(tmp_path):
    (tmp_path / "action.yaml").write_text(yaml_text(ACTION))
    (tmp_path / "task.yaml").write_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps:
            - name: hi
              ref: {name: greet}
        """))
    run = load_file(str(tmp_path / "task.yaml"))
    step = run.task.steps[0]
    assert step.pos.file == str(tmp_path / "task.yaml") and step.pos.line == 6
    assert step.action.name == "greet"
    assert step.action.pos.file == str(tmp_path / "action.yaml") and step.action.pos.line == 1
    assert step.script_pos.file == str(tmp_path / "action.yaml")
    assert step.script_pos.line == 23  # the script's first line, in the action's file


def test_an_action_not_found_names_what_was_searched():
    with pytest.raises(ValidationError) as err:
        load_text(yaml_text("""
            apiVersion: tekton.dev/v1
            kind: Task
            metadata: {name: t}
            spec:
              steps: [{name: s, ref: {name: nowhere}}]
            """), file="/nonexistent-dir/t.yaml")
    (p,) = err.value.problems
    assert p.message.startswith('StepAction "nowhere" (steps[0].ref) was not found; searched: '
                                "/nonexistent-dir/t.yaml")
    assert (p.line, p.column) == (5, 33) and "kind: StepAction" in p.fix


def test_a_remote_action_without_resolver_is_reported_as_asked():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps:
            - name: s
              ref:
                resolver: git
                params: [{name: url, value: "https://example.com/r.git"}]
        """)
    (p,) = diagnose(text, "t.yaml")
    assert p.message == ("steps[0].ref (resolver git, url: https://example.com/r.git) cannot "
                         "be resolved here: no resolver was given to this check")
    assert (p.file, p.line, p.severity) == ("t.yaml", 8, "error")
    (w,) = diagnose(text, "t.yaml", remote_severity="warning")  # the editor's choice
    assert w.severity == "warning"
    assert diagnose(text, "t.yaml", remote_severity=None) == []


def test_extra_and_missing_params_are_refused_as_tekton_does():
    action = """
        apiVersion: tekton.dev/v1beta1
        kind: StepAction
        metadata: {name: need}
        spec:
          params: [{name: must}]
          image: alpine:3.20
          env: [{name: M, value: $(params.must)}]
          command: [env]
        """
    with pytest.raises(ValidationError) as err:
        run_of("steps: [{name: s, ref: {name: need}, params: [{name: other, value: x}]}]",
               action=action)
    messages = [p.message for p in err.value.problems]
    assert messages == [
        'StepAction "need" needs the param must, which the step does not pass',
        'param "other" is not declared by StepAction "need"; Tekton refuses extra params passed '
        "to a StepAction"]


def test_a_step_with_ref_may_not_set_what_the_action_sets():
    with pytest.raises(ValidationError) as err:
        run_of("steps: [{name: s, ref: {name: greet}, image: busybox, script: echo}]")
    assert sorted(p.message for p in err.value.problems) == [
        'step "s" uses a StepAction (ref) and sets image; the StepAction sets it',
        'step "s" uses a StepAction (ref) and sets script; the StepAction sets it']


def test_params_without_ref_are_refused():
    with pytest.raises(ValidationError) as err:
        run_of("steps: [{name: s, image: alpine, script: echo, params: [{name: a, value: b}]}]")
    assert err.value.first.message == ('step "s" has params but no ref; params are passed to a '
                                       "StepAction")


def test_stepaction_documents_are_validated():
    problems = diagnose(yaml_text("""
        apiVersion: tekton.dev/v1beta1
        kind: StepAction
        metadata: {name: bad}
        spec:
          command: [echo]
          script: |
            echo $(params.x)
        """), "a.yaml")
    assert [p.message for p in problems] == [
        "the StepAction has no image",
        "the StepAction sets both script and command; Tekton allows only one",
        "$(params.x): Tekton does not replace params in a StepAction's script"]


def test_v1alpha1_stepactions_still_load():
    run = run_of("steps: [{name: s, ref: {name: greet}}]",
                 action=ACTION.replace("tekton.dev/v1beta1", "tekton.dev/v1alpha1"))
    assert run.task.steps[0].image == "alpine:3.20"


def test_a_file_holding_only_a_stepaction_says_how_to_run_it():
    with pytest.raises(ValidationError.__mro__[1]) as err:
        load_text(yaml_text(ACTION), file="a.yaml")
    assert "runs as a step of a Task" in err.value.first.message
    assert "ref: {name: greet}" in err.value.first.fix


REMOTE_TASK = """
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata: {name: r}
    spec:
      params: [{name: rev, value: v2}]
      taskSpec:
        steps:
          - name: hi
            ref:
              resolver: git
              params:
                - {name: url, value: "file:///srv/actions.git"}
                - {name: revision, value: $(params.rev)}
                - {name: pathInRepo, value: greet.yaml}
            params: [{name: who, value: Bob}]
    """


def test_a_remote_action_is_asked_of_the_resolver_with_the_runs_params():
    from tekton_debug.resolution.reference import Fixed

    resolver = Fixed({Fixed.key("git", url="file:///srv/actions.git", revision="v2",
                                pathInRepo="greet.yaml"): yaml_text(ACTION)})
    run = load_text(yaml_text(REMOTE_TASK), file="t.yaml", resolver=resolver)
    (asked,) = resolver.asked
    assert (asked.kind, asked.where, asked.line) == ("StepAction", "steps[0].ref", 10)
    step = run.task.steps[0]
    assert env_of(step)["WHO"] == "Bob"
    assert step.action.name == "greet" and step.action.remote == "git (given)"


def test_a_remote_action_that_cannot_be_fetched_names_the_reference():
    from tekton_debug.resolution.reference import Fixed

    with pytest.raises(ValidationError) as err:
        load_text(yaml_text(REMOTE_TASK), file="t.yaml", resolver=Fixed({}))
    p = err.value.first
    assert p.message.startswith("steps[0].ref (resolver git, url: file:///srv/actions.git, "
                                "revision: v2, pathInRepo: greet.yaml): not found")
    assert (p.file, p.line) == ("t.yaml", 10)


def test_without_a_resolver_the_loader_says_the_reference_cannot_be_resolved_here():
    with pytest.raises(ValidationError) as err:
        load_text(yaml_text(REMOTE_TASK), file="t.yaml")
    assert "cannot be resolved here" in err.value.first.message
    assert err.value.first.line == 10
