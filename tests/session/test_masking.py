from __future__ import annotations

from tekton_debug.session.masking import Masker


def test_secret_values_are_masked_longest_first():
    m = Masker()
    m.add_secrets(["hunter2", "hunter2-admin", "x"])  # too short to mask: ordinary text
    assert m.mask("pw=hunter2-admin and hunter2, x") == f"pw={Masker.MASK} and {Masker.MASK}, x"


def test_a_secret_split_across_chunks_is_still_masked():
    m = Masker()
    m.add_secrets(["s3cr3t-value"])
    shown = m.mask_stream("out", "token: s3cr") + m.mask_stream("out", "3t-value!\n")
    assert shown == f"token: {Masker.MASK}!\n"


def test_held_back_text_that_was_no_secret_comes_out_whole():
    m = Masker()
    m.add_secrets(["s3cr3t-value"])
    first = m.mask_stream("out", "ends with s3")
    assert first == "ends with "
    assert first + m.flush("out") == "ends with s3"


def test_streams_are_held_apart():
    m = Masker()
    m.add_secrets(["abcdef"])
    assert m.mask_stream("a", "xabc") == "x"
    assert m.mask_stream("b", "def") == "def"
    assert m.mask_stream("a", "def") == Masker.MASK
