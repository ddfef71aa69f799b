"""CEL ``when`` expressions as Tekton's webhook checks them: CEL as written (a reference inside a
CEL string), alone in its entry; their result references order the task."""

from __future__ import annotations

from tekton_debug.tekton.pipeline_loader import load_pipeline_text

from .helpers import yaml_text
from .test_pipeline_loader import one, problems

CEL = """
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata: {name: p}
    spec:
      params: [{name: branch, default: main}]
      tasks:
        - name: cover
          taskSpec:
            results: [{name: ratio}]
            steps: [{image: alpine, script: "true"}]
        - name: release
          when:
            - cel: "'$(params.branch)'.matches('release/.*') || double('$(tasks.cover.results.ratio)') > 0.9"
          taskSpec:
            steps: [{image: alpine, script: "true"}]
    """


def test_a_cel_expression_loads_and_its_result_references_order_the_task():
    run = load_pipeline_text(yaml_text(CEL), file="p.yaml")
    release = run.pipeline.task_named("release")
    assert release.when[0].cel.startswith("'$(params.branch)'.matches(")
    assert release.dependencies == ["cover"]


def test_what_tekton_rejects_in_a_cel_expression_is_reported_at_its_line():
    text = yaml_text(CEL).replace("|| double('$(tasks.cover.results.ratio)')",
                                  "|| $(tasks.cover.results.ratio)") + \
        "    - name: both\n      when:\n        - {cel: \"true\", input: a, operator: in, " \
        "values: [a]}\n      taskSpec:\n        steps: [{image: alpine, script: \"true\"}]\n" \
        "    - name: unknown\n      when:\n        - cel: \"'$(params.nope)' == 'x'\"\n" \
        "      taskSpec:\n        steps: [{image: alpine, script: \"true\"}]\n"
    found = problems(text)
    lines = text.splitlines()
    syntax = one(found, "invalid CEL expression")
    assert "at column 45 ('$(tasks.cove')" in syntax.message and "cel:" in lines[syntax.line - 1]
    assert "'$(params.branch)' == 'main'" in syntax.fix
    both = one(found, "cel and input / operator / values cannot be set")
    assert lines[both.line - 1].strip().startswith("- {cel:")
    unknown = one(found, '"nope"')
    assert "does not declare" in unknown.message and "$(params.nope)" in lines[unknown.line - 1]
