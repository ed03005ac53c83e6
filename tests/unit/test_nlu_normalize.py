"""Normalisation: the many spellings customers type collapse to one matching form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.nlu import normalize
from core.nlu.normalize import MAX_CHARS, compact, variants


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("２０２６年６月２０日", "2026年6月20日"),  # full-width digits
        ("ｅＳＩＭ", "esim"),  # full-width latin, lower-cased
        ("MNP", "mnp"),
        ("イーシム", "いーしむ"),  # katakana -> hiragana
        ("ｲｰｼﾑ", "いーしむ"),  # half-width katakana
        ("イ—シム", "いーしむ"),  # em dash after kana is a long-vowel mark
        ("イ－シム", "いーしむ"),  # full-width hyphen-minus too
        ("2026−06−20", "2026-06-20"),  # minus sign between digits stays a hyphen
        ("解約　　したい", "解約 したい"),  # U+3000 and runs of spaces collapse
        ("  解約したい \n", "解約したい"),
        ("解約\u200bしたい", "解約したい"),  # zero-width space would break matching
        ("解約\x00\x07したい", "解約したい"),  # control characters
        ("①", "1"),
        ("何ヶ月", "何か月"),
        ("何カ月", "何か月"),
        ("何ヵ月", "何か月"),
        ("解約したい。", "解約したい."),
        ("〜", "~"),
    ],
)
def test_spellings_collapse(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_compact_drops_spaces_punctuation_and_emoji_and_spells_out_long_vowels() -> None:
    assert compact(normalize("解約 したい！🙏")) == "解約したい"
    assert compact(normalize("メニュー")) == "めにゅう"
    # Issue 7 class 7: half ー, half spelled out is one word.
    assert compact(normalize("つーわていがく")) == compact(normalize("つうわてーがく"))
    assert compact(normalize("ABC-123")) == "abc123"


def test_long_input_is_capped() -> None:
    out = normalize("解約" * 5000)
    assert len(out) == MAX_CHARS
    assert out.startswith("解約解約")


@given(st.text())
def test_never_raises_and_stays_short(text: str) -> None:
    out = normalize(text)
    assert isinstance(out, str)
    assert len(out) <= MAX_CHARS
    assert out == out.strip()
    assert "  " not in out


def test_stretched_vowels_collapse() -> None:
    assert normalize("解約したいーーー") == "解約したいー"


@pytest.mark.parametrize(
    ("raw", "variant"),
    [
        ("kaiyaku shitai", "かいやく したい"),  # romaji typed without the IME
        ("iijmio kaiyaku", "iijmio かいやく"),  # only words that read back as romaji
    ],
)
def test_variants(raw: str, variant: str) -> None:
    assert variant in variants(normalize(raw))


@pytest.mark.parametrize(
    ("raw", "spelled"),
    [
        ("さいてーりよーきかん", "さいていりようきかん"),  # long vowels as written
        ("いやくきんはかかりますかぁ", "いやくきんはかかりますか"),  # emphatic small vowel
    ],
)
def test_compact_spells_words_the_way_they_are_written(raw: str, spelled: str) -> None:
    assert compact(normalize(raw)) == spelled


def test_english_is_not_read_as_romaji() -> None:
    assert variants(normalize("cancel please")) == ()
