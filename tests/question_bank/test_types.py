"""The question types in isolation: keys from text, checks, and grading (pure functions)."""

import pytest

from question_bank.types import QUESTION_TYPES, BadKey, Content, FillMatching, letters_to_indexes, type_from_name

single, multiple, tf, fill, essay = (QUESTION_TYPES[c] for c in ("single", "multiple", "truefalse", "fill", "essay"))


def test_letters():
    assert letters_to_indexes("ACD") == [0, 2, 3]
    assert letters_to_indexes("a、c, d") == [0, 2, 3]
    with pytest.raises(BadKey):
        letters_to_indexes("AZ")
    with pytest.raises(BadKey):
        letters_to_indexes("")


def test_single_key_from_text():
    assert single.key_from_text("B", 4) == [1]
    with pytest.raises(BadKey):
        single.key_from_text("AB", 4)  # two answers for a single choice
    with pytest.raises(BadKey):
        single.key_from_text("E", 4)  # out of range


def test_multiple_key_from_text():
    assert multiple.key_from_text("DBA", 4) == [0, 1, 3]
    with pytest.raises(BadKey):
        multiple.key_from_text("A", 4)


def test_truefalse_words():
    assert tf.key_from_text("正确") is True and tf.key_from_text("×") is False and tf.key_from_text("T") is True
    with pytest.raises(BadKey):
        tf.key_from_text("也许")


def test_fill_key_and_blank_count():
    assert fill.key_from_text("甲|乙;丙", blank_count=2) == [["甲", "乙"], ["丙"]]
    with pytest.raises(BadKey):
        fill.key_from_text("甲", blank_count=2)


def test_choice_checks():
    good = Content(stem="x", options=["a", "b"], answer=[0])
    assert single.check(good) == []
    assert single.check(Content(stem="x", options=["a"], answer=[0]))  # too few options
    assert single.check(Content(stem="x", options=["a", "a"], answer=[0]))  # duplicate option
    assert single.check(Content(stem="x", options=["a", "b"], answer=[2]))  # answer out of range
    assert multiple.check(Content(stem="x", options=["a", "b", "c"], answer=[1]))  # one answer for multiple
    assert single.check(Content(stem="x", options=[str(i) for i in range(9)], answer=[0]))  # nine options


def test_grading_choice():
    assert single.grade([2], 2) == 1.0 and single.grade([2], 1) == 0.0 and single.grade([2], None) == 0.0
    assert multiple.grade([0, 2], [2, 0]) == 1.0
    assert multiple.grade([0, 2], [0]) == 0.0
    assert multiple.grade([0, 2, 3], [0, 3], policy="partial") == pytest.approx(2 / 3)
    assert multiple.grade([0, 2], [0, 1], policy="partial") == 0.0  # a wrong option earns nothing
    assert multiple.grade([0, 2], [], policy="partial") == 0.0
    assert tf.grade(True, True) == 1.0 and tf.grade(True, False) == 0.0 and tf.grade(True, "true") == 0.0


def test_grading_fill_matching():
    key = [["人民代表大会制度"], ["ABC", "abc公司"]]
    assert fill.grade(key, ["人民代表大会制度", "ＡＢＣ"]) == 1.0  # full-width letters
    assert fill.grade(key, [" 人民代表大会制度。", "abc"]) == 1.0  # spaces, punctuation, case
    assert fill.grade(key, ["人民代表大会", "abc"]) == 0.5
    strict = {"ignore_case": False, "ignore_width": False, "ignore_punct": False}
    assert fill.grade(key, ["人民代表大会制度。", "abc"], settings=strict) == 0.0
    assert FillMatching().normalise("  Ａ，b  ") == "ab"
    assert fill.grade(key, ["人民代表大会 制度", "abc 公司"]) == 1.0  # spaces inside, too (the README's promise)


def test_the_readme_promise_spaces_are_ignored_by_default():
    """README: fill-in matching ignores case, full/half width, punctuation and spaces unless the question says
    otherwise. A version stored without settings (or with some of them) takes those defaults."""
    key = [["人民代表大会制度"]]
    for settings in (None, {}, {"ignore_case": False}):
        assert fill.grade(key, ["人民代表大会 制度"], settings) == 1.0
        assert fill.grade(key, ["人民 代表\u3000大会制度 "], settings) == 1.0
    assert fill.grade([["人民代表大会 制度"]], ["人民代表大会制度"]) == 1.0  # a space in the key is ignored too


@pytest.mark.parametrize(
    "given",
    ["人民代表大会 制度", "人民代表大会  制度", " 人民代表大会制度", "人民代表大会制度 ", "人民代表大会\u3000制度",
     "\u3000人民代表大会制度\u3000", "人民代表大会\t制度", "人民代表大会\n制度", "人民代表大会\xa0制度"],
)  # fmt: skip
def test_spaces_on_and_off(given):
    key = [["人民代表大会制度"]]
    assert fill.grade(key, [given], {"ignore_spaces": True}) == 1.0
    assert fill.grade(key, [given], {"ignore_spaces": False}) == 0.0  # off: spaces count, as typed
    assert fill.grade([[given]], [given], {"ignore_spaces": False}) == 1.0


def test_spaces_off_compares_inner_spaces():
    key = [["New York"]]
    strict = {"ignore_spaces": False}
    assert fill.grade(key, ["new york"], strict) == 1.0  # (case is still ignored)
    assert fill.grade(key, ["NewYork"], strict) == 0.0 and fill.grade(key, ["NewYork"]) == 1.0
    assert fill.grade(key, ["New  York"], strict) == 0.0
    # U+3000 is a space of full width: with width folding it is the ordinary space, without it is not.
    assert fill.grade(key, ["New\u3000York"], strict) == 1.0
    assert fill.grade(key, ["New\u3000York"], {**strict, "ignore_width": False}) == 0.0


@pytest.mark.parametrize(
    ("option", "key", "given"),
    [
        ("ignore_case", "ABC", "abc"),
        ("ignore_case", "Straße", "STRASSE"),  # casefold, not lower
        ("ignore_width", "ABC123", "ＡＢＣ１２３"),
        ("ignore_punct", "中国特色社会主义", "中国特色社会主义。"),
        ("ignore_punct", "一国两制", "“一国两制”"),
        ("ignore_punct", "abc", "a.b,c!"),
        ("ignore_spaces", "人民代表大会制度", "人民代表大会 制度"),
    ],
)
def test_every_folding_option_on_and_off(option, key, given):
    on, off = {option: True}, {option: False}
    assert fill.grade([[key]], [given], on) == 1.0
    expected_off = 1.0 if key == given else 0.0
    assert fill.grade([[key]], [given], off) == expected_off
    # Each option is independent: turning the others off changes nothing for this difference.
    others = {name: False for name in FillMatching.__dataclass_fields__ if name != option}
    assert fill.grade([[key]], [given], {**others, **on}) == 1.0
    assert fill.grade([[key]], [given], {**others, **off}) == expected_off


def test_normalise_with_every_option():
    assert FillMatching().normalise("  Ａ，b \u3000c ") == "abc"
    assert FillMatching(False, False, False, False).normalise(" Ａ，b ") == " Ａ，b "
    assert FillMatching.from_settings({"ignore_spaces": 0, "other": True}) == FillMatching(ignore_spaces=False)


def test_essay_is_graded_by_hand():
    assert essay.grade({"reference": "", "scoring_points": []}, "anything") is None


def test_type_names():
    assert type_from_name("单选题") == "single" and type_from_name("论述题") == "essay"
    assert type_from_name("Single") == "single" and type_from_name("连线题") is None


@pytest.mark.parametrize(
    "qtype, answer, blanks, expected",
    [
        ("single", None, 0, "unanswered"),
        ("single", 0, 0, "answered"),  # the first option is an answer, not nothing
        ("truefalse", False, 0, "answered"),
        ("multiple", [], 0, "unanswered"),  # every box unticked again
        ("multiple", [2], 0, "answered"),
        ("essay", "  \n", 0, "unanswered"),
        ("essay", "请示应当一文一事。", 0, "answered"),
        ("fill", ["", "  "], 2, "unanswered"),
        ("fill", ["全国代表大会", ""], 2, "partial"),
        ("fill", ["", "中央委员会"], 2, "partial"),
        ("fill", ["全国代表大会"], 2, "partial"),  # a shorter list than the stem's blanks
        ("fill", ["全国代表大会", "中央委员会"], 2, "answered"),
        ("fill", None, 2, "unanswered"),
    ],
)
def test_progress_tells_a_partly_answered_fill_in(qtype, answer, blanks, expected):
    assert QUESTION_TYPES[qtype].progress(answer, blanks) == expected
