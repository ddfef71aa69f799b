"""A step that uses a StepAction, in the debugger: the action's file and line under the step's
own line; the variables, the REPL and the shell work as in any step."""

from __future__ import annotations

import textwrap

from tests.dap.conftest import line_of

ACTION = textwrap.dedent("""\
    apiVersion: tekton.dev/v1beta1
    kind: StepAction
    metadata: {name: check-greeting}
    spec:
      params: [{name: expected}]
      image: alpine:3.20
      env: [{name: EXPECTED, value: $(params.expected)}]
      script: |
        #!/bin/sh
        echo "expected $EXPECTED"
        exit 4
    """)

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: uses-action}
    spec:
      params: [{name: greeting, default: hello}]
      steps:
        - name: first
          image: alpine:3.20
          script: echo first
        - name: check
          ref: {name: check-greeting}
          params: [{name: expected, value: "$(params.greeting) world"}]
    """)


def test_a_paused_stepaction_step_shows_the_action_under_the_step(dap, tmp_path):
    (tmp_path / "action.yaml").write_text(ACTION)
    task = tmp_path / "task.yaml"
    task.write_text(TASK)
    dap.start({"type": "tekton", "request": "launch", "task": str(task)})
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["reason"] == "exception" and stopped["threadId"] == 2

    frames = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"]
    assert frames[0]["line"] == line_of(task, "- name: check")
    assert frames[0]["source"]["path"] == str(task)
    assert frames[1]["name"] == "StepAction check-greeting"
    assert frames[1]["source"]["path"] == str(tmp_path / "action.yaml")
    assert frames[1]["line"] == line_of(tmp_path / "action.yaml", "#!/bin/sh")
    assert "first" in frames[2]["name"]  # the finished step, below

    # the action's frame is the same step: its scopes, and the REPL in its environment
    scopes = {s["name"]: s for s in
              dap.request("scopes", {"frameId": frames[1]["id"]})["body"]["scopes"]}
    env = {v["name"]: v["value"] for v in dap.request(
        "variables", {"variablesReference": scopes["Environment"]["variablesReference"]}
    )["body"]["variables"]}
    assert env["EXPECTED"] == "hello world"
    out = dap.request("evaluate", {"expression": 'echo "got $EXPECTED"', "context": "repl",
                                   "frameId": frames[1]["id"]})["body"]
    assert out["result"] == "got hello world"


PIPELINE = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata: {name: p}
    spec:
      tasks:
        - name: check
          taskSpec:
            steps:
              - name: check
                ref: {name: check-greeting}
                params: [{name: expected, value: "hi"}]
    """)


def test_in_a_pipeline_the_action_frame_stands_between_the_step_and_its_task(dap, tmp_path):
    (tmp_path / "action.yaml").write_text(ACTION)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE)
    dap.start({"type": "tekton", "request": "launch", "task": str(pipeline)})
    stopped = dap.wait_event("stopped")["body"]
    frames = dap.request("stackTrace", {"threadId": stopped["threadId"]})["body"]["stackFrames"]
    assert [f["name"].split(":")[0] for f in frames] == [
        "step check", "StepAction check-greeting", "task check"]
    assert frames[1]["source"]["path"] == str(tmp_path / "action.yaml")
    out = dap.request("evaluate", {"expression": "echo $EXPECTED", "context": "repl",
                                   "frameId": frames[1]["id"]})["body"]
    assert out["result"] == "hi"
