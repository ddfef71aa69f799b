"""Warnings: what Tekton accepts but what fails (or is likely to) when the run starts."""

from __future__ import annotations

from tekton_debug.tekton.validation import diagnose

from .helpers import yaml_text


def warnings_of(steps: str, params: str = "[]") -> list:
    text = yaml_text(f"""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {{name: t}}
        spec:
          params: {params}
          steps:
        """) + "\n".join("    " + line for line in yaml_text(steps).splitlines()) + "\n"
    problems = diagnose(text, "t.yaml", search=False)
    assert all(p.severity == "warning" for p in problems), problems
    return problems


def test_a_param_in_a_secret_key_ref_that_is_not_declared():
    (w,) = warnings_of("""
        - name: s
          image: alpine:3
          script: echo
          env:
            - name: TOKEN
              valueFrom:
                secretKeyRef: {name: $(params.secret-name), key: token}
        """, params="[{name: secret, default: s}]")
    assert w.message.startswith("$(params.secret-name) in secretKeyRef.name names no param")
    assert (w.line, w.column) == (13, 34)  # the value, in {name: $(params.secret-name), ...}
    assert w.fix == 'declare param "secret-name", or fix the name'


def test_a_declared_param_in_a_secret_key_ref_is_fine():
    assert warnings_of("""
        - name: s
          image: alpine:3
          script: echo
          env:
            - name: TOKEN
              valueFrom:
                secretKeyRef: {name: $(params.secret), key: token}
        """, params="[{name: secret, default: s}]") == []


def test_a_script_without_shebang_in_an_image_without_shell():
    (w,) = warnings_of("""
        - name: s
          image: gcr.io/distroless/python3-debian12:nonroot
          script: print("hi")
        """)
    assert "no #! line, so Tekton runs it with /bin/sh" in w.message and w.line == 9
    assert warnings_of("""
        - name: s
          image: gcr.io/distroless/python3-debian12:nonroot
          script: |
            #!/usr/bin/python3
            print("hi")
        """) == []


def test_an_image_without_tag_or_digest():
    (w,) = warnings_of("- {name: s, image: ubuntu, script: echo}")
    assert w.message == ("image 'ubuntu' has neither tag nor digest: it runs whatever `latest` "
                         "is that day")
    assert warnings_of("""
        - {name: a, image: "ubuntu:24.04", script: echo}
        - {name: b, image: "registry:5000/ubuntu", script: echo}
        - {name: c, image: "ubuntu@sha256:0d39fcc8335d6d74d5502f6df2d30119ff4790ebbb60b364818d5112d9e3e932", script: echo}
        - {name: d, image: "$(params.image)", script: echo}
        """, params="[{name: image}]")[0].message.startswith("image 'registry:5000/ubuntu'")
