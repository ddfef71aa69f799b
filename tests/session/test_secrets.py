"""Secrets in a session over the local runtime: every value is known before the first step runs, a
step sees only the secrets it references, and output is masked before any of it is kept."""

from __future__ import annotations

import queue

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import RunFinished, StepLog, StepPaused
from tekton_debug.options import LaunchOptions
from tekton_debug.session.masking import Masker
from tekton_debug.session.session import Session

SECRET = "tok-9f8e7d6c5b"


def run_to_end(path, options=None, **more) -> tuple[Session, list]:
    events: queue.Queue = queue.Queue()
    sessions: list[Session] = []

    def listener(ev) -> None:
        # a front end reads a chunk's text while it handles the event: the next chunk replaces it
        events.put((ev, sessions[0].steps[ev.index].last_text if isinstance(ev, StepLog) else None))

    s = Session(LaunchOptions(task_file=str(path), **(options or {})), listener)
    sessions.append(s)
    s.plan.on_failure = more.get("on_failure", False)
    s.start()
    seen = []
    try:
        while True:
            ev, text = events.get(timeout=30)
            seen.append((ev, text))
            if isinstance(ev, (RunFinished, StepPaused)):
                return s, seen
    finally:
        if not more.get("keep_open"):
            s.close()


def output(seen) -> str:
    return "".join(text for ev, text in seen if isinstance(ev, StepLog))


def write(tmp_path, text: str):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


def test_an_earlier_step_prints_a_later_steps_secret_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("TEKTON_DEBUG_SECRET_API_TOKEN", SECRET)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "leak").write_text(f"the token is {SECRET}\n")
    task = write(tmp_path, """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  workspaces: [{name: shared}]
  steps:
    - name: first
      image: alpine
      script: cat $(workspaces.shared.path)/leak
    - name: second
      image: alpine
      env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: api, key: token}}
      script: echo "using $TOKEN"
""")
    s, seen = run_to_end(task, {"workspaces": {"shared": str(shared)}})
    text = output(seen)
    assert "the token is " + Masker.MASK in text
    assert "using " + Masker.MASK in text
    assert SECRET not in text


def test_a_step_gets_only_the_secrets_it_references(tmp_path, monkeypatch):
    monkeypatch.setenv("TEKTON_DEBUG_SECRET_API_TOKEN", SECRET)
    monkeypatch.setenv("TEKTON_DEBUG_CONFIGMAP_SETTINGS_MODE", "fast")
    task = write(tmp_path, """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  steps:
    - name: nosy
      image: alpine
      script: env | grep -c -e TEKTON_DEBUG_SECRET -e TEKTON_DEBUG_CONFIGMAP || true
    - name: user
      image: alpine
      env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: api, key: token}}
      script: test "$TOKEN" = "$EXPECTED" && env | grep -c TEKTON_DEBUG_SECRET || true
""")
    monkeypatch.setenv("EXPECTED", SECRET)
    s, seen = run_to_end(task)
    assert [line for line in output(seen).splitlines()] == ["0", "0"]
    assert seen[-1][0].succeeded


def test_array_and_object_params_marked_secret_are_masked_element_by_element(tmp_path):
    task = write(tmp_path, """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - {name: keys, type: array}
    - name: creds
      type: object
      properties: {user: {type: string}, password: {type: string}}
  steps:
    - name: show
      image: alpine
      args: ["$(params.keys[*])"]
      script: |
        echo "keys: $@"
        echo "password: $(params.creds.password)"
""")
    s, seen = run_to_end(task, {"params": {"keys": ["key-one-111", "key-two-222"],
                                           "creds": {"user": "admin-user", "password": "pw-333"}},
                                "secrets": ("keys", "creds")})
    text = output(seen)
    for value in ("key-one-111", "key-two-222", "admin-user", "pw-333"):
        assert value not in text
    assert f"keys: {Masker.MASK} {Masker.MASK}" in text
    assert f"password: {Masker.MASK}" in text


def test_a_long_line_cut_for_the_last_lines_keeps_no_prefix_of_a_secret(tmp_path):
    task = write(tmp_path, """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params: [{name: token}]
  steps:
    - name: long
      image: alpine
      script: |
        printf '%4090s' '' | tr ' ' x
        echo "$(params.token)"
        exit 1
""")
    s, seen = run_to_end(task, {"params": {"token": "abcdefghijklmnop"}, "secrets": ("token",)},
                         on_failure=True)
    try:
        tail = "\n".join(s.steps[0].last_lines())
        assert "abcdef" not in tail
        assert tail.startswith("x" * 4090 + Masker.MASK[:6])
    finally:
        s.close()


def test_a_multi_line_secret_is_masked_in_output_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TEKTON_DEBUG_SECRET_SSH_KEY", "-----BEGIN-----\nAAAAB3NzaC1y\n-----END-----")
    task = write(tmp_path, """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  steps:
    - name: key
      image: alpine
      env:
        - name: KEY
          valueFrom: {secretKeyRef: {name: ssh, key: key}}
      script: |
        echo "$KEY" | sed 's/^/> /'
""")
    s, seen = run_to_end(task)
    text = output(seen)
    assert "AAAAB3NzaC1y" not in text and "BEGIN" not in text
    assert f"> {Masker.MASK}" in text


def test_an_error_quoting_a_secret_param_is_masked(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    task = write(tmp_path, f"""\
apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: t}}
spec:
  params: [{{name: token}}]
  steps:
    - name: cd
      image: alpine
      workingDir: {blocker}/$(params.token)
      script: "true"
""")
    events: queue.Queue = queue.Queue()
    s = Session(LaunchOptions(task_file=str(task), params={"token": "s3cr3t-dir"},
                              secrets=("token",)), events.put)
    with pytest.raises(UserError) as caught:
        try:
            s.start()
        finally:
            s.close()
    # the session's errors carry the value (they are raised where detected); every front end
    # masks them in one place: the DAP wire and the terminal's error report
    assert "s3cr3t-dir" not in str(s.masker.mask_error(caught.value))
    assert f"{blocker}/{Masker.MASK}" in str(s.masker.mask_error(caught.value))
