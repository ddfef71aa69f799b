"""A pipeline task's matrix as Tekton fans it out, array and object results between tasks, and
what Tekton rejects in them, each at its line with a fix."""

from __future__ import annotations

from tekton_debug.tekton.matrix import MAX_COMBINATIONS, count, fan_out
from tekton_debug.tekton.pipeline_loader import load_pipeline_text

from .helpers import yaml_text
from .test_pipeline_loader import one, problems

GOARCH = ("GOARCH", ["linux/amd64", "linux/ppc64le", "linux/s390x"])
VERSION = ("version", ["go1.17", "go1.18.1"])


def test_params_fan_out_with_each_new_param_outermost_as_tekton_orders_them():
    combos = fan_out([GOARCH, VERSION], [])
    assert [(c["GOARCH"][6:], c["version"]) for c in combos] == [
        ("amd64", "go1.17"), ("ppc64le", "go1.17"), ("s390x", "go1.17"),
        ("amd64", "go1.18.1"), ("ppc64le", "go1.18.1"), ("s390x", "go1.18.1")]


def test_include_adds_params_where_it_fits_and_is_its_own_combination_where_none_does():
    # docs/matrix.md, "Matrix Combinations with Matrix.Params and Matrix.Include"
    include = [{"package": "path/to/common/package/"},
               {"GOARCH": "linux/s390x", "flags": "-cover -v"},
               {"version": "go1.17", "context": "path/to/go117/context"},
               {"GOARCH": "I-do-not-exist"}]
    combos = fan_out([GOARCH, VERSION], include)
    assert len(combos) == 7 and count([GOARCH, VERSION], include) == 7
    assert all(c["package"] == "path/to/common/package/" for c in combos[:6])
    assert [c.get("flags") for c in combos[:6]] == [None, None, "-cover -v"] * 2
    assert [c.get("context") for c in combos[:6]] == ["path/to/go117/context"] * 3 + [None] * 3
    assert combos[6] == {"GOARCH": "I-do-not-exist"}


def test_include_alone_gives_one_combination_per_entry():
    include = [{"IMAGE": f"image-{i}", "DOCKERFILE": f"d{i}"} for i in (1, 2, 3)]
    assert fan_out([], include) == include and count([], include) == 3


MATRIX = """
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata: {name: p}
    spec:
      params: [{name: browsers, type: array, default: [chrome, firefox]}]
      tasks:
        - name: gen
          taskSpec:
            results:
              - {name: list, type: array}
              - {name: obj, type: object, properties: {a: {type: string}}}
              - {name: s}
            steps: [{image: alpine, script: "true"}]
        - name: test
          matrix:
            params:
              - {name: platform, value: [linux, mac]}
              - {name: browser, value: "$(params.browsers[*])"}
            include:
              - name: with-url
                params: [{name: platform, value: linux}, {name: url, value: $(tasks.gen.results.s)}]
          taskSpec:
            params: [{name: platform}, {name: browser}, {name: url, default: ""}]
            results: [{name: report}]
            steps: [{image: alpine, script: "true"}]
        - name: use
          params:
            - {name: reports, value: "$(tasks.test.results.report[*])"}
            - {name: list, value: "$(tasks.gen.results.list[*])"}
            - {name: one, value: "$(tasks.gen.results.list[1]) $(tasks.gen.results.obj.a)"}
            - {name: n, value: $(tasks.test.matrix.length)}
          taskSpec:
            params:
              - {name: reports, type: array}
              - {name: list, type: array}
              - {name: one}
              - {name: n}
            steps: [{image: alpine, script: "true"}]
    """


def test_a_matrix_and_typed_results_load_with_the_order_they_make():
    run = load_pipeline_text(yaml_text(MATRIX), file="p.yaml")
    test = run.pipeline.task_named("test")
    assert test.matrix is not None
    assert test.matrix.params == {"platform": ["linux", "mac"],
                                  "browser": "$(params.browsers[*])"}
    assert test.matrix.include[0].name == "with-url"
    assert test.matrix.pos.line == 16 and test.matrix.names == ["platform", "browser", "url"]
    # results referenced in a matrix order the task after theirs
    assert test.dependencies == ["gen"]
    assert run.pipeline.task_named("use").dependencies == ["test", "gen"]


def test_what_tekton_rejects_in_a_matrix_is_reported_at_its_line():
    text = yaml_text(MATRIX)
    lines = text.splitlines()
    broken = text.replace('{name: browser, value: "$(params.browsers[*])"}',
                          "{name: browser, value: chrome}") \
        .replace("[{name: platform, value: linux}, {name: url",
                 "[{name: platform, value: [linux]}, {name: url") \
        .replace("      taskSpec:\n        params: [{name: platform}, {name: browser}",
                 "      params: [{name: browser, value: x}]\n"
                 "      taskSpec:\n        params: [{name: platform, type: array}, "
                 "{name: browser}")
    assert broken.count("value: chrome}") == 1 and "platform, type: array" in broken
    found = problems(broken)
    lines = broken.splitlines()

    def line_of(problem) -> str:
        return lines[problem.line - 1]

    browser = one(found, 'matrix param "browser" must be an array')
    assert "value: chrome" in line_of(browser) and "[a, b]" in browser.fix
    include = one(found, 'matrix include param "platform" must be a string')
    assert "[linux]" in line_of(include)
    both = one(found, 'param "browser" is given both in params and in matrix')
    assert "value: x" in line_of(both) and "one of them" in both.fix
    typed = one(found, 'matrix param "platform" gives each TaskRun one string')
    assert "declares it as array" in typed.message


def test_more_combinations_than_tekton_allows_is_an_error_at_the_matrix():
    values = ", ".join(f'"{i}"' for i in range(17))
    text = f"""
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {{name: p}}
        spec:
          tasks:
            - name: wide
              matrix:
                params:
                  - {{name: a, value: [{values}]}}
                  - {{name: b, value: [{values[:-6]}]}}
              taskSpec:
                params: [{{name: a}}, {{name: b}}]
                steps: [{{image: alpine, script: "true"}}]
        """
    found = problems(text)
    wide = one(found, "combinations")
    assert "272 combinations" in wide.message
    assert str(MAX_COMBINATIONS) in wide.message and "config-defaults" in wide.fix
    assert yaml_text(text).splitlines()[wide.line - 1].strip() == "matrix:"


def test_results_are_used_as_their_type_allows_and_a_matrix_s_only_whole():
    text = yaml_text(MATRIX).replace(
        "- {name: n, value: $(tasks.test.matrix.length)}",
        "- {name: n, value: $(tasks.test.matrix.length)}\n"
        "        - {name: single, value: $(tasks.test.results.report)}\n"
        "        - {name: inside, value: \"all: $(tasks.gen.results.list[*])\"}\n"
        "        - {name: key, value: $(tasks.gen.results.obj.b)}\n"
        "        - {name: index, value: \"$(tasks.gen.results.s[0])\"}\n"
        "        - {name: whole, value: $(tasks.gen.results.obj)}\n"
        "        - {name: nomatrix, value: $(tasks.gen.matrix.length)}")
    found = problems(text)
    single = one(found, "$(tasks.test.results.report):")
    assert "is a matrix" in single.message and "$(tasks.test.results.report[*])" in single.fix
    inside = one(found, "cannot be used inside a string")
    assert "list[*]" in inside.message and "[0]" in inside.fix
    key = one(found, 'has no key "b"')
    assert "obj" in key.message
    index = one(found, 'result "s" of task "gen" is a string')
    assert "$(tasks.gen.results.s)" in index.fix
    assert one(found, 'task "gen" has no matrix')
    # a whole object as the whole value of a param is what Tekton allows
    assert not [p for p in found if "results.obj)" in p.message]
