from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tekton_debug.session.masking import Masker

MASK = Masker.MASK.encode()


def test_secret_values_are_masked_longest_first():
    m = Masker()
    m.add_secrets(["hunter2", "hunter2-admin", "x"])  # too short to mask: ordinary text
    assert m.mask("pw=hunter2-admin and hunter2, x") == f"pw={Masker.MASK} and {Masker.MASK}, x"


def test_a_secret_split_across_chunks_is_still_masked():
    m = Masker()
    m.add_secrets(["s3cr3t-value"])
    shown = m.mask_stream("out", b"token: s3cr") + m.mask_stream("out", b"3t-value!\n")
    assert shown == f"token: {Masker.MASK}!\n".encode()


def test_held_back_text_that_was_no_secret_comes_out_whole():
    m = Masker()
    m.add_secrets(["s3cr3t-value"])
    first = m.mask_stream("out", b"ends with s3")
    assert first == b"ends with "
    assert first + m.flush("out") == b"ends with s3"


def test_streams_are_held_apart():
    m = Masker()
    m.add_secrets(["abcdef"])
    assert m.mask_stream("a", b"xabc") == b"x"
    assert m.mask_stream("b", b"def") == b"def"
    assert m.mask_stream("a", b"def") == MASK


def test_a_whole_secret_at_a_chunks_end_is_not_cut_for_another_that_may_begin_inside_it():
    # "secretive" may begin at "secret": the whole "hunter2secret" before it is masked all the same
    m = Masker()
    m.add_secrets(["hunter2secret", "secretive"])
    shown = m.mask_stream("out", b"pw hunter2secret") + m.mask_stream("out", b"ive\n")
    assert shown == b"pw " + MASK + b"ive\n"
    assert b"hunter2" not in shown


def test_a_secret_that_begins_a_longer_one_waits_for_the_next_chunk():
    m = Masker()
    m.add_secrets(["abc", "abcdef"])
    first = m.mask_stream("out", b"x abc")
    assert first == b"x "
    assert first + m.mask_stream("out", b"def y") == b"x " + MASK + b" y"
    assert m.mask_stream("out", b"abc") == b""
    assert m.flush("out") == MASK


def test_a_secret_split_inside_a_character_is_masked_and_the_text_decodes():
    m = Masker()
    m.add_secrets(["pässwörd"])
    data = "id: pässwörd ünd\n".encode()
    at = data.index("ö".encode()) + 1  # between the two bytes of "ö"
    shown = m.mask_stream("out", data[:at]) + m.mask_stream("out", data[at:])
    assert shown.decode() == f"id: {Masker.MASK} ünd\n"


@settings(max_examples=300)
@given(st.lists(st.sampled_from(["ab", "abc", "abcab", "bca", "cab", "xabcx", "\n", "é"]),
                max_size=30),
       st.lists(st.integers(min_value=0, max_value=60), max_size=8))
def test_masked_in_chunks_is_masked_whole(words, cuts):
    secrets = ["abc", "abcab", "bcab", "cabé"]
    data = "".join(words).encode()
    whole = Masker()
    whole.add_secrets(secrets)
    expected = whole.mask(data.decode()).encode()
    m = Masker()
    m.add_secrets(secrets)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    shown = b"".join(m.mask_stream("k", data[a:b]) for a, b in zip(points, points[1:]))
    assert shown + m.flush("k") == expected


def test_a_multi_line_secret_is_masked_whole_and_line_by_line():
    m = Masker()
    m.add_secrets(["-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"])
    assert m.mask("key:\n-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\n") == \
        f"key:\n{Masker.MASK}\n"
    # a log that prefixes each line, or shows one line only, still shows none of it
    assert m.mask("[step] MIIEvQIBADANBg") == f"[step] {Masker.MASK}"
    assert m.mask("  MIIEvQIBADANBg  ") == f"  {Masker.MASK}  "


def test_every_string_of_a_message_is_masked_keys_included():
    m = Masker()
    m.add_secrets(["hunter2"])
    body = {"variables": [{"name": "hunter2.txt", "value": "pw hunter2", "variablesReference": 3}],
            "hunter2": ["a", "xhunter2x"], "n": 1}
    assert m.mask_data(body) == {
        "variables": [{"name": f"{Masker.MASK}.txt", "value": f"pw {Masker.MASK}",
                       "variablesReference": 3}],
        Masker.MASK: ["a", f"x{Masker.MASK}x"], "n": 1}
    clean = {"a": ["b", {"c": "d"}]}
    assert m.mask_data(clean) is clean


def test_an_error_keeps_its_kind_and_place_with_its_text_masked():
    from tekton_debug.errors import WrongTime
    m = Masker()
    m.add_secrets(["hunter2"])
    error = WrongTime("cannot create /work/hunter2", fix="remove hunter2 from the path")
    masked = m.mask_error(error)
    assert isinstance(masked, WrongTime)
    assert str(masked) == f"cannot create /work/{Masker.MASK}\n  fix: remove {Masker.MASK} from the path"


def test_text_cut_to_a_limit_is_masked_before_the_cut():
    m = Masker()
    m.add_secrets(["abcdefgh"])
    text = "x" * 10 + "abcdefgh" + "y" * 10
    assert m.mask_then_cut(text, 14) == "x" * 10 + Masker.MASK[:4]
    assert "abcd" not in m.mask_then_cut(text, 14)


def test_the_log_file_shows_no_secret_of_any_run(caplog):
    import logging
    from tekton_debug.session.masking import LogFilter
    m = Masker()
    m.add_secrets(["hunter2"])
    handler = logging.StreamHandler(stream := __import__("io").StringIO())
    handler.addFilter(LogFilter())
    log = logging.getLogger("tekton_debug.test-masking")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.warning("could not run %s", "echo hunter2")
        try:
            raise RuntimeError("boom with hunter2")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    assert "hunter2" not in stream.getvalue()
    assert f"could not run echo {Masker.MASK}" in stream.getvalue()
    assert f"boom with {Masker.MASK}" in stream.getvalue()
