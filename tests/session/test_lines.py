from __future__ import annotations

from tekton_debug.session.lines import PrefixedLines


def test_each_whole_line_gets_its_prefix_and_a_line_split_across_chunks_comes_out_whole():
    lines = PrefixedLines()
    assert lines.feed("out", "[a] ", "one\ntw") == "[a] one\n"
    assert lines.feed("out", "[a] ", "o") == ""
    assert lines.feed("out", "[a] ", "o\nthree\n\nfour") == "[a] twoo\n[a] three\n[a] \n"
    assert lines.flush("out", "[a] ") == "[a] four\n"
    assert lines.flush("out", "[a] ") == ""


def test_streams_are_kept_apart_and_a_held_line_is_bounded():
    lines = PrefixedLines(limit=4)
    assert lines.feed("out", "[a] ", "abcdefgh") == ""
    assert lines.feed("err", "[a] ", "x\n") == "[a] x\n"
    assert lines.feed("out", "[a] ", "ij\n") == "[a] efghij\n"
