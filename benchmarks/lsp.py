"""The language server's answer to a small request while it analyses a 10,000-step Task.

Two servers over their real stdio, driven in turn by the same client (``tests/lsp``): the server
as it is (analyses on worker threads), and the same server with each analysis run on its event
loop, as it was before (``Worker.submit`` runs the call inline). In each round, each server gets
a new text of the large Task (a change, then a save: the analysis starts at once) and, in the
same write, a hover on a small open document; the figure is the time from that write to the
hover's answer. Baseline: the same hover with nothing being analysed. Median of the rounds.

And the requests of a Pipeline on a large one (1,000 tasks, analysed): completion after
``$(tasks.X.results.``, go to definition from ``$(tasks.X.results.Y)``, and the code lens, each
from writing the request to its answer; baseline: the same requests on a Pipeline of 3 tasks, and
the time this process takes to parse the large Pipeline's YAML once (what each request cost on
top when it parsed the document again). Median of the rounds.

And a definition that follows a taskRef into a folder of 12 large Tasks, one of them just
changed, written together with a hover on a small document: the time to each answer, on both
servers (the folder read on the lookup thread, or on the event loop as before); and the same
definition again, answered from the folder kept. Median of the rounds.

And typing a few keys, each followed by a completion (written at once, as a fast typist's editor
sends them), at the end of a 10,000-step Task whose last line does not parse: the time to the last
completion's answer, on the server as it is (the text without the line typed analysed once) and
on one that analyses it for each completion, as it did before. Median of the rounds.

And a document's analysis with its diagnostics, in this process, on the same large Task and
Pipeline: as the server does it (diagnostics from the documents the analysis parsed) and as it did
before (``diagnose`` parsing the text again). Median of the rounds. Standalone, not part of ``run``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "adapter")]

from tests.lsp.test_linear import task_with_bad_references  # noqa: E402
from tests.lsp.test_responsive import (REFERRING, SMALL, Server, at,  # noqa: E402
                                       folder_of_tasks, open_document, pipeline_with_tasks,
                                       rename)
from tekton_debug.lsp.diagnostics import problems  # noqa: E402
from tekton_debug.lsp.document import analyse  # noqa: E402
from tekton_debug.tekton.validation import diagnose  # noqa: E402
from tekton_debug.tekton.yamlpos import load_documents  # noqa: E402

ON_THE_LOOP = """
import asyncio, sys
from tekton_debug.lsp import server, worker

class OnTheLoop(worker.Worker):
    def submit(self, fn, *args):
        job = worker.Job(asyncio.get_running_loop().create_future(), fn, args)
        job.future.set_result(fn(*args))
        return job

server.Worker = OnTheLoop
sys.exit(server.main())
"""

# The server as it was before the text without the line being typed was analysed once per text:
# each completion asks the worker for its own analysis, and none is dropped.
REPAIRED_PER_REQUEST = """
import asyncio, sys
from tekton_debug.lsp import server
from tekton_debug.lsp.completion import without_line
from tekton_debug.lsp.document import analyse

async def repaired(self, uri, source, analysis, line0, column0):
    if analysis.docs:
        return None
    text = without_line(source.text, line0)
    kept = self._repaired.get(uri)
    if kept is not None and kept[0] == text:
        return kept[1]
    result = await asyncio.shield(self._worker.submit(analyse, text, analysis.file).future)
    self._repaired[uri] = (text, result)
    return result

server.TektonLanguageServer.repaired = repaired
sys.exit(server.main())
"""


def save(uri: str) -> bytes:
    return Server.notification("textDocument/didSave", {"textDocument": {"uri": uri}})


def hover_time(server: Server, small: str, large: str | None = None, version: int = 0) -> float:
    """Seconds from writing a hover on ``small`` to its answer; with ``large``, a new text of it
    (``version``) is written first, and its diagnostics are awaited after, so the next round
    starts idle."""
    id, data = server.request("textDocument/hover", at(small, 11, 27))
    edit = b"" if large is None else rename(large, version, f"big{version}") + save(large)
    mark = len(server.seen)
    start = time.perf_counter()
    server.send_raw(edit + data)
    server.response(id)
    elapsed = time.perf_counter() - start

    def published(m: dict) -> bool:
        return (m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == large and m["params"]["version"] == version)

    if large is not None and not any(published(m) for m in server.seen[mark:]):
        server.until(published)
    return elapsed


def measure(rounds: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        servers = {"threads": Server(tmp_path),
                   "loop": Server(tmp_path, [sys.executable, "-c", ON_THE_LOOP])}
        small, large = (tmp_path / "small.yaml").as_uri(), (tmp_path / "large.yaml").as_uri()
        times: dict[str, list[float]] = {"idle": [], "threads": [], "loop": []}
        try:
            for server in servers.values():
                server.initialize()
                server.send_raw(open_document(small, SMALL)
                                + open_document(large, task_with_bad_references(10_000)))
                server.diagnostics(small)
                server.diagnostics(large)
            for version in range(2, rounds + 2):
                times["idle"].append(hover_time(servers["threads"], small))
                for name, server in servers.items():
                    times[name].append(hover_time(server, small, large, version))
        finally:
            for server in servers.values():
                server.stop()
    return {name: statistics.median(values) for name, values in times.items()}


def measure_lookup(rounds: int = 5) -> dict[str, float]:
    """Median seconds from writing a definition that follows a taskRef into a folder of 12
    1,500-step Tasks just changed, and a hover on a small document, to the hover's answer, and
    to the definition's; and of the same definition again (the folder unchanged): on each
    server."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        pipeline = folder_of_tasks(tmp_path / "tasks").as_uri()
        target = tmp_path / "tasks" / "zz-target.yaml"
        small = (tmp_path / "small.yaml").as_uri()
        servers = {"threads": Server(tmp_path),
                   "loop": Server(tmp_path, [sys.executable, "-c", ON_THE_LOOP])}
        times: dict[str, list[float]] = {}
        try:
            for server in servers.values():
                server.initialize()
                server.send_raw(open_document(small, SMALL) + open_document(pipeline, REFERRING))
                server.diagnostics(small)
                server.diagnostics(pipeline)
            for n in range(rounds):
                for name, server in servers.items():
                    # a file of the folder saved: it is read again, not answered from memory
                    os.utime(target, ns=(time.time_ns(), time.time_ns() + n))
                    define, define_data = server.request("textDocument/definition",
                                                         at(pipeline, 8, 16))
                    hover, hover_data = server.request("textDocument/hover", at(small, 11, 27))
                    start = time.perf_counter()
                    server.send_raw(define_data + hover_data)
                    server.response(hover)
                    times.setdefault(f"hover {name}", []).append(time.perf_counter() - start)
                    if not any(m.get("id") == define for m in server.seen):
                        server.response(define)
                    times.setdefault(f"definition {name}", []).append(
                        time.perf_counter() - start)
                    again, again_data = server.request("textDocument/definition",
                                                       at(pipeline, 8, 16))
                    start = time.perf_counter()
                    server.send_raw(again_data)
                    server.response(again)
                    times.setdefault(f"again {name}", []).append(time.perf_counter() - start)
        finally:
            for server in servers.values():
                server.stop()
    return {name: statistics.median(values) for name, values in times.items()}


def requests(text: str) -> dict[str, tuple[str, dict | None]]:
    """The requests measured on ``text`` (a ``pipeline_with_tasks``): name -> (method, place)."""
    lines = text.splitlines()
    typed = next(n for n, line in enumerate(lines) if line.endswith(".results."))
    used = next(n for n, line in enumerate(lines) if line.endswith(".results.out)"))
    return {"completion": ("textDocument/completion", (typed, len(lines[typed]))),
            "definition": ("textDocument/definition", (used, lines[used].index("out)") + 1)),
            "code lens": ("textDocument/codeLens", None)}


def request_time(server: Server, uri: str, method: str, where: tuple[int, int] | None) -> float:
    params = {"textDocument": {"uri": uri}} if where is None else at(uri, *where)
    id, data = server.request(method, params)
    start = time.perf_counter()
    server.send_raw(data)
    answer = server.response(id)
    elapsed = time.perf_counter() - start
    assert answer.get("result"), (method, answer)
    return elapsed


def measure_pipeline(rounds: int = 5, tasks: int = 1000) -> dict[str, float]:
    """Median seconds of each request on a large and on a small Pipeline, and of one parse."""
    texts = {"large": pipeline_with_tasks(tasks), "small": pipeline_with_tasks(3)}
    parse = []
    for _ in range(rounds):
        start = time.perf_counter()
        load_documents(texts["large"], "large.yaml")
        parse.append(time.perf_counter() - start)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = Server(tmp_path)
        try:
            server.initialize()
            uris = {size: (tmp_path / f"{size}.yaml").as_uri() for size in texts}
            for size, text in texts.items():
                server.send_raw(open_document(uris[size], text))
                server.diagnostics(uris[size])  # analysed: what is measured is the request
            for _ in range(rounds):
                for size, text in texts.items():
                    for name, (method, where) in requests(text).items():
                        times.setdefault(f"{name} {size}", []).append(
                            request_time(server, uris[size], method, where))
        finally:
            server.stop()
    return {"parse": statistics.median(parse),
            **{name: statistics.median(values) for name, values in times.items()}}


#: What is typed, a key at a time, at the end of a broken 10,000-step Task.
TYPED = "known"


def typing_time(server: Server, uri: str) -> float:
    """Seconds from writing the keys of ``TYPED`` into the document ``uri`` (open, analysed, its
    last line an unclosed ``args: ["$(params.``), each followed by a completion, to the answer
    to the last completion; every completion is answered before it returns."""
    text = task_with_bad_references(10_000) + '    - name: typed\n      args: ["$(params.'
    line = text.count("\n")
    column = len(text) - text.rfind("\n") - 1
    server.send_raw(open_document(uri, text))
    server.diagnostics(uri)
    data, ids = b"", []
    for n, key in enumerate(TYPED):
        place = {"line": line, "character": column + n}
        data += Server.notification("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": n + 2},
            "contentChanges": [{"range": {"start": place, "end": place}, "text": key}]})
        id, request = server.request("textDocument/completion", at(uri, line, column + n + 1))
        data += request
        ids.append(id)
    start = time.perf_counter()
    server.send_raw(data)
    last = server.response(ids[-1])
    elapsed = time.perf_counter() - start
    assert any(item["label"] == "known" for item in last["result"]), last
    for id in ids[:-1]:
        if not any(m.get("id") == id for m in server.seen):
            server.response(id)
    server.send_raw(Server.notification("textDocument/didClose", {"textDocument": {"uri": uri}}))
    return elapsed


def measure_typing(rounds: int = 5) -> dict[str, float]:
    """Median seconds of :func:`typing_time`, on the server as it is and on the server that
    analysed the text without the line being typed once per completion."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        servers = {"shared": Server(tmp_path),
                   "per request": Server(tmp_path, [sys.executable, "-c", REPAIRED_PER_REQUEST])}
        times: dict[str, list[float]] = {name: [] for name in servers}
        try:
            for server in servers.values():
                server.initialize()
            for n in range(rounds):
                for name, server in servers.items():
                    times[name].append(typing_time(server, (tmp_path / f"typed-{n}.yaml").as_uri()))
        finally:
            for server in servers.values():
                server.stop()
    return {name: statistics.median(values) for name, values in times.items()}


def measure_diagnostics(rounds: int = 5) -> dict[str, float]:
    """Median seconds of analysing a text and finding its problems, once parsing the text once
    ("once") and once parsing it again for the problems ("twice", as before)."""
    texts = {"Task": task_with_bad_references(10_000), "Pipeline": pipeline_with_tasks(1000)}
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, text in texts.items():
            file = os.path.join(tmp, f"{kind}.yaml")
            for _ in range(rounds):
                for how in ("once", "twice"):
                    start = time.perf_counter()
                    analysis = analyse(text, file)
                    found = problems(analysis) if how == "once" else diagnose(
                        text, file, search=True, remote_severity="warning")
                    times.setdefault(f"{kind} {how}", []).append(time.perf_counter() - start)
                    assert found or kind == "Pipeline"
    return {name: statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    d = measure_diagnostics(3 if "--quick" in sys.argv else 7)
    print("analysis and diagnostics, median: "
          + "; ".join(f"{what} {d[kind + ' once'] * 1000:.0f} ms (parsing the text again, as "
                      f"before: {d[kind + ' twice'] * 1000:.0f} ms)"
                      for kind, what in (("Task", "a 10,000-step Task"),
                                         ("Pipeline", "a 1,000-task Pipeline"))))
    k = measure_lookup(3 if "--quick" in sys.argv else 7)
    print(f"a definition that reads a folder of 12 1,500-step Tasks, median: answered in "
          f"{k['definition threads'] * 1000:.0f} ms, {k['again threads'] * 1000:.1f} ms again "
          f"while the folder is unchanged; a hover on another document sent with it: "
          f"{k['hover threads'] * 1000:.1f} ms (the folder read on the event loop: hover "
          f"{k['hover loop'] * 1000:.0f} ms, definition {k['definition loop'] * 1000:.0f} ms)")
    p = measure_pipeline(3 if "--quick" in sys.argv else 7)
    print(f"a 1,000-task Pipeline, analysed, median: "
          + "; ".join(f"{name} {p[name + ' large'] * 1000:.1f} ms (3 tasks: "
                      f"{p[name + ' small'] * 1000:.1f} ms)"
                      for name in ("completion", "definition", "code lens"))
          + f"; parsing its YAML once: {p['parse'] * 1000:.1f} ms")
    t = measure_typing(3 if "--quick" in sys.argv else 7)
    print(f"typing {len(TYPED)} keys, each with a completion, into a broken 10,000-step Task, "
          f"median: the last completion answered in {t['shared'] * 1000:.0f} ms (the text "
          f"without the line typed analysed once per completion, as before: "
          f"{t['per request'] * 1000:.0f} ms)")
    r = measure(3 if "--quick" in sys.argv else 7)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"hover on a small document, median: idle {r['idle'] * 1000:.1f} ms; while a "
          f"10,000-step Task is analysed: {r['threads'] * 1000:.1f} ms (analysis on threads, "
          f"{r['threads'] / r['idle']:.1f}x idle), {r['loop'] * 1000:.1f} ms (analysis on the "
          f"event loop, as before: {r['loop'] / r['threads']:.0f}x the threads' figure); "
          f"load average {load}")
