"""Hostile and careless requests against a paused run with secrets: whatever is asked (watch, hover,
the REPL printing secrets with text around them, split over lines, in every scope), no message the
adapter sends holds a secret's value, nor does its log."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dap.dapclient import DapClient
from tests.dap.test_secrets import API, CREDS, KEYS, SECRETS, TOKEN, config, walk

REFERENCES = ["$(params.token)", "$(params.keys[0])", "$(params.keys[1])", "$(params.keys)",
              "$(params.creds.user)", "$(params.creds.password)", "$API_TOKEN", "${API_TOKEN}"]
SHELL = [
    'echo "{0}"', "printf '%s\\n' \"x{0}y\"", 'echo "{0}" | fold -w 3', "echo '{0}' >&2",
    'echo "{0}{0}"', "printf '%s' \"{0}\"", 'echo "$(ls -- "$(workspaces.src.path)")"',
    'cat -- "$(workspaces.src.path)"/*', "env", "set", "pwd",
]


@pytest.fixture(scope="module")
def paused(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("leaks")
    client = DapClient(cwd=str(tmp_path), env={"TEKTON_DEBUG_SECRET_API_TOKEN": API},
                       args=["--log-file", str(tmp_path / "dap.log")])
    client.start(config(tmp_path))
    thread = client.wait_event("stopped")["body"]["threadId"]
    frame = client.request("stackTrace", {"threadId": thread})["body"]["stackFrames"][0]["id"]
    yield client, thread, frame, tmp_path
    client.close()


def requests() -> st.SearchStrategy:
    reference = st.sampled_from(REFERENCES)
    watch = st.builds(lambda r, c: ("evaluate", {"expression": r, "context": c}),
                      reference, st.sampled_from(["watch", "hover", "clipboard", "variables"]))
    repl = st.builds(lambda t, r: ("evaluate", {"expression": t.format(r), "context": "repl"}),
                     st.sampled_from(SHELL), reference)
    other = st.sampled_from([("threads", {}), ("exceptionInfo", {}), ("scopes", {}),
                             ("stackTrace", {})])
    return st.lists(st.one_of(watch, repl, other), min_size=1, max_size=6)


@settings(max_examples=25,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(asked=requests())
def test_no_request_brings_a_secret_out(paused, asked):
    dap, thread, frame, _ = paused
    before = len(dap.messages)
    for command, arguments in asked:
        if command == "evaluate":
            arguments = {**arguments, "frameId": frame}
        elif command in ("exceptionInfo", "stackTrace"):
            arguments = {"threadId": thread}
        elif command == "scopes":
            for scope in dap.request("scopes", {"frameId": frame})["body"]["scopes"]:
                walk(dap, scope["variablesReference"])
            continue
        dap.request(command, arguments, check=False, timeout=30)
    sent = "\n".join(json.dumps(m, ensure_ascii=False) for m in dap.messages[before:])
    assert [s for s in SECRETS if s in sent] == []


def test_the_log_of_all_that_holds_no_secret(paused):
    dap, _, frame, tmp_path = paused
    dap.request("evaluate", {"expression": 'echo "$API_TOKEN $(params.token)"', "context": "repl",
                             "frameId": frame})
    log = (tmp_path / "dap.log").read_text()
    assert "evaluate" in log
    assert [s for s in [TOKEN, *KEYS, *CREDS.values(), API] if s in log] == []
