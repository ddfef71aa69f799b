"""The language server answers while it analyses: a 10,000-step Task takes about a second to
analyse, off the event loop; a request on a document just edited waits for the analysis of its
new text, not the others; rapid edits publish diagnostics for the latest version only; and an
oversized message is skipped without being read into memory.

These tests drive ``python -m tekton_debug lsp`` over its stdin and stdout with a small client of
their own, which sees the order in which the server's messages arrive. They assert orders, not
durations.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

from tests.lsp.test_linear import task_with_bad_references

SMALL = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: small
spec:
  params:
    - name: version
      description: The version to build.
  steps:
    - name: build
      image: alpine:3.20
      script: echo $(params.version)
"""


def pipeline_with_tasks(tasks: int) -> str:
    """A Pipeline of ``tasks`` tasks, each with its own Task and one result, each given the
    previous one's result; the last one's value is being typed: ``$(tasks.t<n-2>.results.``."""
    head = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: big\nspec:\n  tasks:\n"
    body = []
    for i in range(tasks):
        given = (f"$(tasks.t{i - 1}.results.out)" if i < tasks - 1 else
                 f"$(tasks.t{i - 1}.results.") if i else "first"
        body.append(f"    - name: t{i}\n      params:\n        - name: in\n"
                    f"          value: {given}\n      taskSpec:\n        params: [{{name: in}}]\n"
                    f"        results: [{{name: out}}]\n        steps:\n"
                    f"          - image: alpine:3.20\n"
                    f"            script: printf $(params.in) > $(results.out.path)\n")
    return head + "".join(body)


class Server:
    """``tekton-debug lsp`` on pipes, with every message it sends kept in arrival order."""

    def __init__(self, tmp_path: Path, command: list[str] | None = None) -> None:
        self.stderr_path = tmp_path / f"lsp-{id(self)}.stderr"
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "tekton_debug", "lsp"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=open(self.stderr_path, "wb"))
        self.messages: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self._id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.process.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def send_raw(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    @staticmethod
    def frame(message: dict) -> bytes:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def request(self, method: str, params: dict | None = None) -> tuple[int, bytes]:
        self._id += 1
        return self._id, self.frame({"id": self._id, "method": method, "params": params})

    @staticmethod
    def notification(method: str, params: dict | None = None) -> bytes:
        return Server.frame({"method": method, "params": params})

    def next(self) -> dict:
        message = self.messages.get(timeout=120)  # a hang fails the test instead of blocking
        assert message is not None, self.stderr()
        self.seen.append(message)
        return message

    def until(self, predicate) -> dict:
        while True:
            message = self.next()
            if predicate(message):
                return message

    def response(self, id: int) -> dict:
        return self.until(lambda m: m.get("id") == id and "method" not in m)

    def diagnostics(self, uri: str) -> dict:
        return self.until(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                          and m["params"]["uri"] == uri)

    def initialize(self) -> None:
        id, data = self.request("initialize", {"processId": None, "rootUri": None,
                                               "capabilities": {}})
        self.send_raw(data)
        self.response(id)
        self.send_raw(self.notification("initialized", {}))

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()

    def peak_memory(self) -> int:
        """The most memory the server has held (VmHWM), in bytes."""
        with open(f"/proc/{self.process.pid}/status") as f:
            line = next(line for line in f if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024


def open_document(uri: str, text: str, version: int = 1) -> bytes:
    return Server.notification("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "yaml", "version": version, "text": text}})


def rename(uri: str, version: int, name: str) -> bytes:
    """An edit of the Task's name (line 3), as typing sends it."""
    return Server.notification("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": version},
        "contentChanges": [{"range": {"start": {"line": 3, "character": 8},
                                      "end": {"line": 3, "character": 100}},
                            "text": name}]})


def insert(uri: str, version: int, line: int, text: str) -> bytes:
    """An edit that inserts ``text`` at the start of ``line``, as a paste sends it."""
    start = {"line": line, "character": 0}
    return Server.notification("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": version},
        "contentChanges": [{"range": {"start": start, "end": start}, "text": text}]})


def at(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def start(tmp_path: Path) -> Server:
    server = Server(tmp_path)
    server.initialize()
    return server


def test_a_small_document_is_answered_while_a_huge_one_is_analysed(tmp_path):
    server = start(tmp_path)
    try:
        small, huge = (tmp_path / "small.yaml").as_uri(), (tmp_path / "huge.yaml").as_uri()
        server.send_raw(open_document(small, SMALL))
        server.diagnostics(small)
        hover, hover_data = server.request("textDocument/hover", at(small, 11, 27))
        complete, complete_data = server.request("textDocument/completion", at(small, 11, 22))
        # the three messages reach the server at once: the answers do not wait for the analysis
        server.send_raw(open_document(huge, task_with_bad_references(10_000)) + hover_data
                        + complete_data)
        published = server.diagnostics(huge)
        assert len(published["params"]["diagnostics"]) == 10_000
        order = [m.get("id") for m in server.seen]
        assert hover in order and complete in order, "answered before the analysis ended"
        answered = {m["id"]: m for m in server.seen if m.get("id") in (hover, complete)}
        assert "The version to build." in answered[hover]["result"]["contents"]["value"]
        assert answered[complete]["result"]  # the params, as completion offers them
    finally:
        server.stop()


def test_shutdown_and_exit_are_answered_while_an_analysis_runs(tmp_path):
    server = start(tmp_path)
    try:
        huge = (tmp_path / "huge.yaml").as_uri()
        shutdown, data = server.request("shutdown")
        server.send_raw(open_document(huge, task_with_bad_references(10_000)) + data)
        server.response(shutdown)
        assert not any(m.get("method") == "textDocument/publishDiagnostics"
                       for m in server.seen), "the analysis had not ended yet"
        server.send_raw(server.notification("exit"))
        server.process.stdin.close()  # as clients do after exit
        assert server.process.wait(timeout=120) == 0
    finally:
        server.stop()


def test_rapid_edits_publish_diagnostics_for_the_latest_version_only(tmp_path):
    server = start(tmp_path)
    try:
        huge = (tmp_path / "huge.yaml").as_uri()
        edits = b"".join(rename(huge, version, f"big{version}") for version in range(2, 7))
        server.send_raw(open_document(huge, task_with_bad_references(10_000)) + edits)
        published = server.until(
            lambda m: m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["version"] == 6)
        assert len(published["params"]["diagnostics"]) == 10_000
        versions = [m["params"]["version"] for m in server.seen
                    if m.get("method") == "textDocument/publishDiagnostics"]
        assert versions == [6]
        # and the version 6 was the one analysed: its symbol is the last name typed
        symbols, data = server.request("textDocument/documentSymbol", {"textDocument": {
            "uri": huge}})
        server.send_raw(data)
        assert server.response(symbols)["result"][0]["name"] == "big6"
    finally:
        server.stop()


def test_an_oversized_message_is_skipped_without_being_read_into_memory(tmp_path):
    server = start(tmp_path)
    try:
        before = server.peak_memory()
        size = 64 * 1024 * 1024
        server.send_raw(b"Content-Length: %d\r\n\r\n" % size)
        piece = b" " * (1024 * 1024)
        for _ in range(size // len(piece)):
            server.send_raw(piece)
        small = (tmp_path / "small.yaml").as_uri()
        server.send_raw(open_document(small, SMALL))
        hover, data = server.request("textDocument/hover", at(small, 11, 27))
        server.send_raw(data)
        assert "The version to build." in server.response(hover)["result"]["contents"]["value"]
        assert server.peak_memory() < before + size // 2
        assert ("a message of 67108864 bytes (Content-Length) exceeds the limit of 16 MiB"
                in server.stderr())
        assert "Traceback" not in server.stderr()
    finally:
        server.stop()


def test_a_request_on_a_huge_document_just_edited_waits_for_its_analysis_not_the_others(tmp_path):
    server = start(tmp_path)
    try:
        small, huge = (tmp_path / "small.yaml").as_uri(), (tmp_path / "huge.yaml").as_uri()
        text = pipeline_with_tasks(1000)
        server.send_raw(open_document(small, SMALL) + open_document(huge, text))
        server.diagnostics(small)
        server.diagnostics(huge)
        first = "    - name: first\n      taskSpec:\n        steps: [{image: alpine:3.20}]\n"
        edited = text.replace("  tasks:\n", "  tasks:\n" + first, 1)
        lines = edited.splitlines()
        used = next(n for n, line in enumerate(lines) if "$(tasks.t0.results.out)" in line)
        declared = next(n for n, line in enumerate(lines) if "results: [{name: out}]" in line)
        define, define_data = server.request("textDocument/definition", at(
            huge, used, lines[used].index("out)")))
        hover, hover_data = server.request("textDocument/hover", at(small, 11, 27))
        # the three messages reach the server at once: the huge document's new text is analysed
        # (a few hundred milliseconds) while the small one's hover is answered
        server.send_raw(insert(huge, 2, 6, first) + define_data + hover_data)
        found = server.response(define)["result"]
        assert (found["range"]["start"]["line"], found["uri"]) == (declared, huge), \
            "answered from the text before the edit"
        assert hover in [m.get("id") for m in server.seen], \
            "the small document's hover waited for the huge one's analysis"
    finally:
        server.stop()


#: A Pipeline whose task's taskRef (line 8, from column 14) names a Task of another file.
REFERRING = ("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n"
             "  tasks:\n    - name: a\n      taskRef:\n        name: target\n"
             "      params: [{name: version, value: '1'}]\n")


def folder_of_tasks(folder: Path, files: int = 12, steps: int = 1500) -> Path:
    """``folder`` with ``files`` large Tasks, the Task "target" (``SMALL``) after them, and
    ``REFERRING`` in pipeline.yaml (returned): following its taskRef reads every file."""
    folder.mkdir()
    for n in range(files):
        (folder / f"big-{n:02d}.yaml").write_text(
            task_with_bad_references(steps).replace("name: big\n", f"name: big-{n}\n", 1))
    (folder / "zz-target.yaml").write_text(SMALL.replace("name: small", "name: target"))
    (folder / "pipeline.yaml").write_text(REFERRING)
    return folder / "pipeline.yaml"


def test_a_hover_is_answered_while_a_task_ref_is_looked_up_in_a_folder_of_large_files(tmp_path):
    folder = tmp_path / "tasks"
    pipeline = folder_of_tasks(folder).read_text()  # read and indexed in a second or more
    server = start(tmp_path)
    try:
        small, uri = (tmp_path / "small.yaml").as_uri(), (folder / "pipeline.yaml").as_uri()
        server.send_raw(open_document(small, SMALL) + open_document(uri, pipeline))
        server.diagnostics(small)
        assert server.diagnostics(uri)["params"]["diagnostics"] == []  # the Task was found
        define, define_data = server.request("textDocument/definition", at(uri, 8, 16))
        hover, hover_data = server.request("textDocument/hover", at(small, 11, 27))
        # both reach the server at once: the definition reads the folder, the hover does not
        server.send_raw(define_data + hover_data)
        found = server.response(define)["result"]
        assert (found["uri"], found["range"]["start"]["line"]) == (
            (folder / "zz-target.yaml").as_uri(), 3)
        assert hover in [m.get("id") for m in server.seen], \
            "the hover on another document waited for the folder to be read"
        answered = next(m for m in server.seen if m.get("id") == hover)
        assert "The version to build." in answered["result"]["contents"]["value"]
    finally:
        server.stop()


def test_only_a_text_that_refers_to_other_files_is_answered_off_the_loop():
    from tekton_debug.lsp.document import analyse

    task = SMALL.replace("name: small", "name: target")
    run = ("apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: r\nspec:\n"
           "  taskRef:\n    name: target\n")
    step_ref = task.replace("image: alpine:3.20\n", "ref: {name: git-clone}\n")
    remote = run.replace("    name: target\n", "    resolver: git\n")
    assert not analyse(task).elsewhere
    assert not analyse(task + "---\n" + run).elsewhere  # its Task is in the same text
    assert analyse(run).elsewhere
    assert analyse(step_ref).elsewhere
    assert analyse(remote).elsewhere


def test_the_text_without_a_line_being_typed_is_analysed_once_for_the_latest_text(monkeypatch):
    """Typing fast in a Task whose YAML is broken asks for a completion at each keystroke, each
    needing the analysis of the text without the line typed: one for an older text, not begun
    yet, is dropped, and two requests for the same text share one, so that the worker does not
    spend a second on each text no longer shown before it analyses the current one."""
    import asyncio

    from tekton_debug.lsp import server as lsp_server
    from tekton_debug.lsp.completion import without_line
    from tekton_debug.lsp.document import analyse
    from tekton_debug.lsp.source import Source
    from tekton_debug.lsp.worker import THREADS, Superseded

    analysed = []

    def counted(text, file=None):
        analysed.append(text)
        return analyse(text, file)

    monkeypatch.setattr(lsp_server, "analyse", counted)
    uri = "file:///nowhere/task.yaml"
    line0 = SMALL.splitlines().index("      script: echo $(params.version)")
    # the line being typed, then the Task renamed (another edit) and the line typed on
    texts = [SMALL.replace("script: echo $(params.version)", 'args: ["$(params.' + typed)
             .replace("name: small", name) for typed, name in (
                 ("", "name: small"), ("v", "name: renamed"), ("ve", "name: renamed"))]

    async def complete(ls, text: str):
        source = Source(text, uri)
        analysis = analyse(text, source.file)
        assert analysis.syntax_error is not None
        return await ls.repaired(uri, source, analysis, line0, len(source.line(line0)))

    async def typing() -> list:
        ls = lsp_server.TektonLanguageServer()
        busy = threading.Event()  # the worker's threads analyse other documents meanwhile
        held = [ls._worker.submit(busy.wait) for _ in range(THREADS)]
        requests = [asyncio.ensure_future(complete(ls, text))
                    for text in (texts[0], texts[1], texts[2], texts[2])]
        await asyncio.sleep(0)  # each request has asked for its analysis
        busy.set()
        await asyncio.gather(*(job.future for job in held))
        answers = await asyncio.gather(*requests, return_exceptions=True)
        # nor is it analysed for a completion where nothing is being typed that it could offer
        source = Source(texts[2], uri)
        assert await ls.repaired(uri, source, analyse(texts[2]), 3, 4) is None
        return answers

    answers = asyncio.run(typing())
    assert analysed == [without_line(texts[2], line0)], "analysed more than the latest text"
    assert isinstance(answers[0], Superseded)  # a completion for a text no longer shown
    assert answers[1] is answers[2] is answers[3] and answers[1].objects[0].name == "renamed"
