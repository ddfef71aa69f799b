"""Hover on a remote reference: what it resolves to, from the cache (the resolver the server
gives answers from the cache only)."""

from __future__ import annotations

import textwrap

from tekton_debug.lsp.document import analyse
from tekton_debug.lsp.hover import hover
from tekton_debug.lsp.source import Source
from tekton_debug.resolution.reference import Fixed

RUN = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata: {name: r}
    spec:
      taskRef:
        resolver: hub
        params:
          - {name: name, value: git-clone}
          - {name: version, value: "0.9"}
    """)

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: git-clone}
    spec:
      description: Clone a repository.
      steps:
        - {name: clone, image: alpine:3.20, script: git clone}
    """)


def hover_at_line(line0: int, resolver):
    source = Source(RUN, "file:///w/run.yaml")
    return hover(analyse(RUN, "/w/run.yaml"), None, source, line0, 4, resolver)


def test_hover_on_a_cached_remote_task_says_what_it_resolves_to():
    resolver = Fixed({Fixed.key("hub", name="git-clone", version="0.9"): TASK})
    h = hover_at_line(6, resolver)
    assert h.contents.value == ("**Task git-clone**, from the cache: hub (given)\n\n"
                                "Clone a repository.\n\nSteps: `clone`")
    assert h.range.start.line == 5  # the taskRef's mapping


def test_hover_on_a_remote_task_not_in_the_cache_says_why():
    h = hover_at_line(7, Fixed({}))
    assert h.contents.value.startswith("**Task**: taskRef (resolver hub, name: git-clone, "
                                       "version: 0.9): not found")
