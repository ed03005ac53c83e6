"""Text normalisation for matching: one canonical spelling for the many ways customers type.

The result is for matching only, never shown back to the user: full-width digits and latin
become half-width, latin is lower-cased, katakana becomes hiragana (so イーシム, ｲｰｼﾑ and いーしむ
compare equal), whitespace collapses and dash / long-vowel variants are unified.
"""

from __future__ import annotations

import re
import unicodedata

import jaconv

# Only the head of a message is looked at: intent is stated early, and capping first keeps
# a 10,000-character paste as cheap as a short message.
MAX_CHARS = 500

_DASH_SET = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u2500\u2501-")
_WAVES = frozenset("\u301c\uff5e~\u3030")
_PUNCT_MAP = str.maketrans(
    {
        "、": ",",
        "，": ",",
        "。": ".",
        "．": ".",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        # 何ヶ月 / 何カ月 / 何ヵ月 / 何か月 are one word; kata2hira would keep them apart.
        "ヶ": "か",
        "ヵ": "か",
    }
)
_SPACES = re.compile(r"\s+")
_LONG_RUNS = re.compile(r"ー{2,}")  # かいやくしたいーーー: a stretched vowel is one mark
_LATIN_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_SMALL_VOWELS = {"ぁ": "あ", "ぃ": "い", "ぅ": "う", "ぇ": "え", "ぉ": "お"}
# The vowel a long-vowel mark stands for after each vowel (さいてー -> さいてい, りよー -> りよう):
# how words are written in kana when they are not written with ー.
_LONG_AFTER = {"a": "あ", "i": "い", "u": "う", "e": "い", "o": "う"}
# Characters dropped before matching: spaces and punctuation/symbols (emoji included).
_NOISE_CATEGORIES = ("Z", "P", "S", "C")


def _is_kana(ch: str) -> bool:
    return "\u3041" <= ch <= "\u30ff" or ch == "ー"


def _strip_controls(text: str) -> str:
    # Keep ordinary whitespace (it separates words); drop other control and format chars
    # (zero-width spaces, BOM, direction marks) that would silently break substring matches.
    return "".join(
        ch if ch in "\t\n\r" or unicodedata.category(ch)[0] != "C" else "" for ch in text
    )


def _unify_dashes(text: str) -> str:
    # A dash after kana is a long-vowel mark (イ—シム); elsewhere it is a hyphen (2026-06-20).
    out: list[str] = []
    for ch in text:
        if ch in _DASH_SET:
            out.append("ー" if out and _is_kana(out[-1]) else "-")
        elif ch in _WAVES:
            out.append("~")
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str) -> str:
    """Canonical matching form of ``text`` (see module docstring). Never raises."""
    if not isinstance(text, str):  # defensive: adapters should only ever pass str
        text = str(text)
    # Cap twice: before the (linear but not free) Unicode work, and after NFKC expansion.
    head = _strip_controls(text[: MAX_CHARS * 2])
    head = unicodedata.normalize("NFKC", head)
    head = head.translate(_PUNCT_MAP).lower()
    head = jaconv.kata2hira(head)
    head = _unify_dashes(head)
    head = _LONG_RUNS.sub("ー", head)
    head = _SPACES.sub(" ", head).strip()
    return head[:MAX_CHARS]


def _romaji_word(word: str) -> str:
    # Only words that read back as the same romaji are Japanese typed in latin (kaiyaku);
    # English (cancel -> かんせる -> kanseru) is left alone.
    kana = str(jaconv.alphabet2kana(word))
    if str(jaconv.kana2alphabet(kana)) == word and all(not ("a" <= c <= "z") for c in kana):
        return kana
    return word


def _vowel(kana: str) -> str:
    return str(jaconv.kana2alphabet(kana))[-1:]


# Every hiragana's vowel, once at import: spelling out is on every message's path.
_VOWEL_OF = {chr(c): _vowel(chr(c)) for c in range(0x3041, 0x3097)}


def _spelled_out_vowels(text: str) -> str:
    if "ー" not in text and not any(ch in _SMALL_VOWELS for ch in text):
        return text
    out: list[str] = []
    for ch in text:
        prev = out[-1] if out else ""
        if ch == "ー" and prev in _VOWEL_OF:
            out.append(_LONG_AFTER.get(_VOWEL_OF[prev], ch))
        elif (
            ch in _SMALL_VOWELS
            and prev in _VOWEL_OF
            and _VOWEL_OF[prev] == _VOWEL_OF[_SMALL_VOWELS[ch]]
        ):
            continue  # したぁい: a small vowel repeating the one before is emphasis
        else:
            out.append(ch)
    return "".join(out)


def variants(normalized: str) -> tuple[str, ...]:
    """Other readings of ``normalized`` worth a second look when it matched nothing as
    typed: romaji turned into kana (kaiyaku shitai -> かいやく したい). (Long-vowel marks
    need no second look: compact spells them out on every message and word alike.)"""
    romaji = _LATIN_WORD.sub(lambda m: _romaji_word(m.group(0)), normalized)
    return (romaji,) if romaji != normalized else ()


def compact(normalized: str) -> str:
    """``normalized`` without spaces, punctuation and symbols (emoji): the form keywords are
    searched in, so "解約 したい！" and "解約したい" match alike. A long-vowel mark after kana
    is spelled out the way words are written (つーわていがく -> つうわていがく, いーしむ ->
    いいしむ), on lexicon words and messages alike, so a word typed half with ー and half
    spelled out still matches."""
    kept = "".join(
        ch
        for ch in normalized
        if ch == "ー" or not unicodedata.category(ch).startswith(_NOISE_CATEGORIES)
    )
    return _spelled_out_vowels(kept)
