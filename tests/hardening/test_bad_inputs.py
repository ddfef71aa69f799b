"""Every broken input of tests/data/bad/ is reported the same way by the CLI, the DAP and the LSP.

Each input is ``NN-name.yaml`` (a broken Task or TaskRun), ``NN-name.launch.json`` (a broken launch
configuration, or the params given with a YAML input of the same name) or both, and beside it
``NN-name.expected``: the first line the CLI prints, without ``error: ``, with the input's path
written ``{file}`` and its directory ``{dir}``.

- CLI: ``tekton-debug run FILE`` exits 2, prints that line and no traceback.
- DAP: ``launch`` is answered with an error shown to the user whose text starts with that line.
- LSP: the document has a diagnostic with the same message on the same line.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.dap.dapclient import DapClient

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"

#: Inputs the language server rightly says nothing about, and why.
NOT_THE_EDITORS = {
    "16-missing-param-value": "param values come with the launch, which an editor does not know",
    "17-unknown-param-given": "param values come with the launch, which an editor does not know",
    "30-empty-file": "an empty YAML file is not flagged while it is being written",
    "31-not-a-mapping": "YAML that is no Tekton object is not the language server's business",
}

VALID_TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: valid
    spec:
      params:
        - name: version
          default: "1.0"
      steps:
        - name: build
          image: alpine
          script: echo $(params.version)
    """)

_LOCATION = re.compile(r"\{file\}(?::(\d+))?(?::(\d+))?: (.*)\Z")


@dataclass(frozen=True)
class BadInput:
    name: str
    yaml: Path | None
    launch: dict
    expected: str  # with {file} and {dir}

    def __str__(self) -> str:
        return self.name

    def expected_for(self, file: str) -> str:
        return self.expected.replace("{file}", file).replace("{dir}", str(Path(file).parent))

    def cli_args(self) -> list[str]:
        return [f"-p{k}={v}" for k, v in (self.launch.get("params") or {}).items()]


def corpus() -> list[BadInput]:
    out = []
    for expected in sorted(CORPUS.rglob("*.expected")):
        stem = expected.with_suffix("")
        yaml_path = stem.with_suffix(".yaml")
        launch_path = stem.with_suffix(".launch.json")
        out.append(BadInput(
            stem.name, yaml_path if yaml_path.exists() else None,
            json.loads(launch_path.read_text()) if launch_path.exists() else {},
            expected.read_text().rstrip("\n")))
    return out


CASES = corpus()
YAML_CASES = [c for c in CASES if c.yaml is not None]


def test_corpus_holds_thirty_broken_inputs_each_with_its_message():
    inputs = {p.name.split(".")[0] for p in CORPUS.rglob("[0-9]*")
              if p.suffix in (".yaml", ".json")}
    assert {c.name for c in CASES} == inputs
    assert len(CASES) >= 30
    for case in CASES:
        assert "\n" not in case.expected and case.expected.strip(), case.name
        assert not case.expected.startswith("error:"), case.name


# ---- CLI ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_runs() -> dict[str, subprocess.CompletedProcess]:
    """`tekton-debug run` on every YAML input, several at a time."""
    def run(case: BadInput) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tekton_debug", "run", str(case.yaml), *case.cli_args()],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip((c.name for c in YAML_CASES), pool.map(run, YAML_CASES)))


@pytest.mark.parametrize("case", YAML_CASES, ids=str)
def test_cli_prints_the_expected_error_and_exits_2(case, cli_runs):
    result = cli_runs[case.name]

    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == "error: " + case.expected_for(str(case.yaml))
    assert "\n  fix: " in result.stderr


# ---- DAP ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    """One adapter for every input: a refused launch leaves it ready for the next one."""
    cwd = tmp_path_factory.mktemp("dap")
    (cwd / "task.yaml").write_text(VALID_TASK)
    client = DapClient(cwd=str(cwd))
    client.request("initialize", {"adapterID": "tekton", "clientID": "pytest",
                                  "linesStartAt1": True, "columnsStartAt1": True})
    client.cwd = cwd
    yield client
    client.close()
    assert "Traceback" not in client.stderr.decode()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_dap_launch_answers_the_expected_error(case, adapter):
    config = {"type": "tekton", "request": "launch", "name": case.name,
              "task": str(adapter.cwd / "task.yaml"), **case.launch}
    if case.yaml is not None:
        config["task"] = str(case.yaml)

    response = adapter.request("launch", config, check=False)

    assert response["success"] is False
    error = response["body"]["error"]
    assert error["showUser"] is True
    expected = case.expected_for(config["task"])
    assert error["format"].splitlines()[0] == expected
    short = response["message"]  # the first line, shortened to 200 characters
    assert short == expected or (short.endswith("...") and expected.startswith(short[:-3]))
    assert adapter.proc.poll() is None


# ---- LSP ------------------------------------------------------------------------------------

@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "tekton_debug", "lsp"]),
)
async def lsp(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=CORPUS.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path) -> list[types.Diagnostic]:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1,
                                             text=path.read_text())))
    while uri not in client.diagnostics:
        await asyncio.wrap_future(
            client.protocol.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS))
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    return list(client.diagnostics[uri])


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", [c for c in YAML_CASES if c.name not in NOT_THE_EDITORS],
                         ids=str)
async def test_language_server_shows_the_same_message_on_the_same_line(case, lsp):
    expected = _LOCATION.match(case.expected)
    assert expected, f"{case.name}: the expected line names no place in {{file}}"
    line, message = int(expected.group(1) or 0), case.expected_for(str(case.yaml)).split(
        f"{case.yaml}:{expected.group(1)}:" if expected.group(2) is None else
        f"{case.yaml}:{expected.group(1)}:{expected.group(2)}: ", 1)[1].strip()

    diagnostics = await _open(lsp, case.yaml)

    shown = [(d.range.start.line + 1, d.message.split("\n")[0]) for d in diagnostics]
    assert line, f"{case.name}: the CLI names no line"
    assert (line, message) in shown
    assert all(d.severity == types.DiagnosticSeverity.Error for d in diagnostics
               if (d.range.start.line + 1, d.message.split("\n")[0]) == (line, message))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", sorted(NOT_THE_EDITORS))
async def test_language_server_is_silent_where_an_editor_should_be(name, lsp):
    diagnostics = await _open(lsp, CORPUS / f"{name}.yaml")

    assert diagnostics == [], NOT_THE_EDITORS[name]
