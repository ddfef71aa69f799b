"""No secret in any message the DAP server sends, nor in its log: output, variables (Params, Step,
Environment, Workspaces), hover and watch, the REPL, exceptionInfo, threads and frames, errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.dap.dapclient import DapClient, DapError

TOKEN = "tok-4c3b2a1909"  # a param marked secret, in a file name and a working directory
KEYS = ["key-aaa-111", "key-bbb-222"]  # an array param marked secret
CREDS = {"user": "deploy-bot", "password": "pw-ccc-333"}  # an object param marked secret
API = "api-ddd-444"  # a Secret's value, read locally from TEKTON_DEBUG_SECRET_API_TOKEN
SECRETS = [TOKEN, *KEYS, *CREDS.values(), API]

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: secretive}
    spec:
      params:
        - {name: token}
        - {name: keys, type: array}
        - name: creds
          type: object
          properties: {user: {type: string}, password: {type: string}}
      workspaces: [{name: src}]
      steps:
        - name: prepare
          image: alpine
          script: |
            touch "$(workspaces.src.path)/$(params.token).txt"
            echo "first key $(params.keys[0]), user $(params.creds.user)"
        - name: build
          image: alpine
          workingDir: $(workspaces.src.path)/$(params.token)
          env:
            - name: API_TOKEN
              valueFrom: {secretKeyRef: {name: api, key: token}}
          command: [sh, -c, 'echo "api $API_TOKEN, arg $0, pw $1"; exit 3', "$(params.token)",
                    "$(params.creds.password)"]
    """)


def leaks(messages) -> list[str]:
    text = "\n".join(json.dumps(m, ensure_ascii=False) for m in messages)
    return [s for s in SECRETS if s in text]


def walk(dap, ref, depth=0, budget=None) -> list[dict]:
    """Every variable under ``ref`` (bounded: a few levels, a few hundred variables)."""
    budget = budget if budget is not None else [300]
    found = []
    for v in dap.request("variables", {"variablesReference": ref})["body"]["variables"]:
        budget[0] -= 1
        if budget[0] < 0:
            break
        found.append(v)
        if v["variablesReference"] and depth < 4:
            found += walk(dap, v["variablesReference"], depth + 1, budget)
    return found


@pytest.fixture
def secret_dap(tmp_path):
    client = DapClient(cwd=str(tmp_path), env={"TEKTON_DEBUG_SECRET_API_TOKEN": API},
                       args=["--log-file", str(tmp_path / "dap.log")])
    yield client
    client.close()


def config(tmp_path, **more) -> dict:
    task = tmp_path / "task.yaml"
    task.write_text(TASK)
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    return {"type": "tekton", "request": "launch", "task": str(task),
            "params": {"token": TOKEN, "keys": KEYS, "creds": CREDS},
            "workspaces": {"src": str(src)}, "secrets": ["token", "keys", "creds"], **more}


def test_no_message_and_no_log_line_shows_a_secret(secret_dap, tmp_path):
    dap = secret_dap
    dap.start(config(tmp_path))
    stopped = dap.wait_event("stopped")["body"]
    thread = stopped["threadId"]
    dap.request("threads")
    frames = dap.request("stackTrace", {"threadId": thread})["body"]["stackFrames"]
    scopes = dap.request("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
    variables = [v for s in scopes for v in walk(dap, s["variablesReference"])]
    names = {v["name"] for v in variables}
    assert {"keys", "creds", "token", "API_TOKEN", "command", "workingDir"} <= names
    assert any(v["name"] == "********.txt" for v in variables)  # the workspace's file

    results = [dap.request("evaluate", {"expression": e, "context": c, "frameId": frames[0]["id"]},
                           check=False)
               for e, c in [("$(params.keys[0])", "watch"), ("$(params.keys[1])", "hover"),
                            ("$(params.creds.password)", "watch"), ("$(params.token)", "watch"),
                            ("$API_TOKEN", "watch"), ("$(params.keys)", "watch"),
                            ('echo "$API_TOKEN $(params.token)"; ls -- "$(workspaces.src.path)"; '
                             "pwd", "repl"),
                            (f"echo {TOKEN}", "repl"),
                            ("$(params.nothing.here)", "watch")]]
    assert [r.get("message") for r in results[:-1] if not r["success"]] == []
    assert [r["body"]["result"] for r in results[:6]] == ["********"] * 6
    assert "********" in results[6]["body"]["result"]
    dap.request("exceptionInfo", {"threadId": thread})
    dap.request("continue", {"threadId": thread})
    dap.wait_event("terminated")

    assert "first key ********, user ********" in dap.output()
    assert "api ********, arg ********, pw ********" in dap.output()
    assert leaks(dap.messages) == []
    dap.close()
    log = (tmp_path / "dap.log").read_text()
    assert "DAP stdio -->" in log and "DAP stdio <--" in log  # the trace is there, masked
    assert [s for s in SECRETS if s in log] == []


def test_a_launch_error_quoting_a_secret_is_masked(secret_dap, tmp_path):
    (tmp_path / "blocker").write_text("")
    cfg = config(tmp_path)
    task = tmp_path / "task.yaml"
    task.write_text(TASK.replace("workingDir: $(workspaces.src.path)/$(params.token)",
                                 f"workingDir: {tmp_path}/blocker/$(params.token)"))
    with pytest.raises(DapError) as caught:
        secret_dap.start(cfg)
    error = caught.value.response
    assert "cannot create its workingDir" in error["body"]["error"]["format"]
    assert "blocker/********" in error["body"]["error"]["format"]
    assert leaks(secret_dap.messages) == []


PIPELINE = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata: {name: p}
    spec:
      params: [{name: token}]
      tasks:
        - name: first
          params: [{name: t, value: "$(params.token)"}]
          taskSpec:
            params: [{name: t}]
            steps: [{name: a, image: alpine, script: 'echo "first: $(params.t) $API_LEAK"; exit 2'}]
    """)


def test_a_pipelines_messages_show_no_secret(secret_dap, tmp_path):
    dap = secret_dap
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.replace("$API_LEAK", API))
    dap.start({"type": "tekton", "request": "launch", "task": str(path),
               "params": {"token": TOKEN}, "secrets": ["token"]})
    stopped = dap.wait_event("stopped")["body"]
    dap.request("threads")
    frames = dap.request("stackTrace", {"threadId": stopped["threadId"]})["body"]["stackFrames"]
    scopes = dap.request("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
    for scope in scopes:
        walk(dap, scope["variablesReference"])
    dap.request("evaluate", {"expression": "echo $(params.t)", "context": "repl",
                             "frameId": frames[0]["id"]})
    dap.request("exceptionInfo", {"threadId": stopped["threadId"]})
    assert "first: ******** ********" in dap.output()
    assert leaks(dap.messages) == []


def test_a_pipelines_child_sessions_show_no_secret(secret_dap, tmp_path):
    import time
    from tests.dap.test_pipeline_dap import connect_children
    dap = secret_dap
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.replace("$API_LEAK", API))
    children = connect_children(dap)
    dap.start({"type": "tekton", "request": "launch", "task": str(path),
               "params": {"token": TOKEN}, "secrets": ["token"]},
              client_capabilities={"supportsStartDebuggingRequest": True})
    try:
        deadline = time.monotonic() + 20
        while "first" not in children and time.monotonic() < deadline:
            time.sleep(0.02)
        child = children["first"]
        child.wait(lambda m: m.get("event") == "stopped")
        child.send("stackTrace", {"threadId": 1})
        frame = child.wait(lambda m: m.get("command") == "stackTrace")["body"]["stackFrames"][0]
        child.send("evaluate", {"expression": 'echo "$(params.t)"', "context": "repl",
                                "frameId": frame["id"]})
        result = child.wait(lambda m: m.get("command") == "evaluate")
        assert result["body"]["result"] == "********"
        child.send("exceptionInfo", {"threadId": 1})
        child.wait(lambda m: m.get("command") == "exceptionInfo")
        shown = [m for m in child.messages if m.get("event") == "output"]
        assert "first: ******** ********" in "".join(m["body"]["output"] for m in shown)
        assert leaks(child.messages) == [] and leaks(dap.messages) == []
    finally:
        for c in children.values():
            c.close()
