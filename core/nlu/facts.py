"""Facts stated in a message (plan, SIM type, keep-the-number, carrier, option, amount).

Contract: `extract_facts(text, today)` takes the message as typed and returns `Facts` with
every field it is sure of and nothing it guesses; dates are added by `core.nlu.dates`, not
here. The words are data (data/facts.yaml), compiled once per process into one regular
expression per fact, so this costs a few tens of microseconds on every message.

Three rules keep it from guessing:
- a word followed by a contrast (ドコモじゃなくて) or, for most facts, a negation
  (MNPはしない) does not state its value; for keep_number a negation states the opposite;
- two different values of one fact in a message (ギガプランか旧プラン) leave it unknown;
- a carrier followed by から is where the customer comes from, not where they go.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from core.intent import Facts
from core.nlu.normalize import MAX_CHARS, compact, normalize, variants
from core.yaml_data import load_yaml

DATA_FILE = Path(__file__).parent / "data" / "facts.yaml"
WORD_FACTS = ("plan", "sim", "keep_number", "carrier", "option")
# Kept when squeezing a message: clause ends (for the negation window) and the yen sign.
_KEEP = frozenset(",.?!¥")
_KANJI_DIGITS = {k: i for i, k in enumerate("〇一二三四五六七八九")}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBER = r"[0-9,〇一二三四五六七八九十百千万]+"
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")


class _SqueezeTable(dict[int, int | None]):
    """str.translate table, filled per code point on first sight (C speed afterwards)."""

    def __missing__(self, cp: int) -> int | None:
        ch = chr(cp)
        keep = ch in _KEEP or ch == "ー" or unicodedata.category(ch)[0] not in "ZPSC"
        self[cp] = cp if keep else None
        return self[cp]


_SQUEEZE = _SqueezeTable()


def squeeze(text: str) -> str:
    """``text`` without spaces, symbols and punctuation other than clause ends and ¥: the
    form words are searched in, so 「番号 そのまま」 and 「番号そのまま」 match alike."""
    return text.translate(_SQUEEZE)


def spelled_out(normalized: str) -> set[str]:
    """``normalized`` with long-vowel marks written out (つーわ -> つうわ), as core.nlu.normalize
    spells them: in `compact` or among the `variants`, whichever this build does."""
    forms = {squeeze(compact(normalized))} | {squeeze(v) for v in variants(normalized)}
    forms.discard(squeeze(normalized))
    return forms


def _exact(text: str) -> str:
    # NFKC and lower case but katakana kept: ドコモ (the carrier) is not どこも (anywhere).
    return squeeze(unicodedata.normalize("NFKC", text[: MAX_CHARS * 2]).lower())[:MAX_CHARS]


@dataclass(frozen=True)
class _Scanner:
    """All words of the facts read on one form of the message: one trie-shaped regular
    expression (Python's re tries alternatives one by one; a trie makes it one pass), the
    fact and value each word states, and the few words written as patterns."""

    trie: re.Pattern[str] | None
    words: Mapping[str, tuple[str, str]]  # word -> (fact, value)
    patterns: tuple[tuple[re.Pattern[str], str, str], ...]

    def hits(self, form: str) -> list[tuple[str, str, int, int]]:
        out = []
        if self.trie is not None:
            for m in self.trie.finditer(form):
                word = m.group(0)
                if _latin_edge(form, m.start(), m.end(), word):
                    continue
                fact, value = self.words[word]
                out.append((fact, value, m.start(), m.end()))
        for pattern, fact, value in self.patterns:
            out += [(fact, value, m.start(), m.end()) for m in pattern.finditer(form)]
        return out


@dataclass(frozen=True)
class _Hit:
    value: str
    negated: bool
    contrasted: bool
    after: str  # the text right after the word (for carrier direction)


@dataclass(frozen=True)
class FactWords:
    folded: _Scanner  # hiragana form
    exact: _Scanner  # katakana kept (facts marked `kana: exact`)
    contrast: tuple[str, ...]
    negation: tuple[str, ...]
    stem_negation: re.Pattern[str] | None  # 引き継|がずに, 持っていか|ないで
    not_negation: tuple[str, ...]  # かまわない, できない: removed before looking
    right_after: tuple[str, ...]
    clause_ends: tuple[str, ...]
    window: int
    destination: tuple[str, ...]
    origin: tuple[str, ...]
    amount: re.Pattern[str]
    amount_prefixed: re.Pattern[str]
    bare_amount: re.Pattern[str]
    amount_max: int
    other_numbers: re.Pattern[str] | None  # blanked out: not the phone number


def _strs(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"facts.yaml: {where} must be a list of texts")
    return tuple(raw)


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


def _latin_edge(form: str, start: int, end: int, word: str) -> bool:
    """A latin word glued to other latin letters is part of another word (au in audio)."""
    before = start > 0 and _is_latin(form[start - 1]) and _is_latin(word[0])
    after = end < len(form) and _is_latin(form[end]) and _is_latin(word[-1])
    return before or after


def _trie(words: Iterable[str]) -> re.Pattern[str] | None:
    root: dict[str, Any] = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: Mapping[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Greedy: the longest word at a position wins (5分かけ放題 over かけ放題).
        return f"(?:{body})?" if "" in node else body

    return re.compile(emit(root)) if root else None


def _scanner(sections: Mapping[str, Mapping[str, Any]], fold: Callable[[str], str]) -> _Scanner:
    words: dict[str, tuple[str, str]] = {}
    patterns = []
    for fact, section in sections.items():
        for value, items in section.items():
            if value == "kana":
                continue
            if not isinstance(items, list):
                raise ValueError(f"facts.yaml: {fact}.{value} must be a list")
            for w in items:
                if isinstance(w, dict) and isinstance(w.get("re"), str):
                    patterns.append((re.compile(w["re"]), fact, str(value)))
                elif isinstance(w, str):
                    for form in _forms(w, fold):
                        if words.setdefault(form, (fact, str(value))) != (fact, str(value)):
                            raise ValueError(f"facts.yaml: {w!r} states two things")
                else:
                    raise ValueError(f"facts.yaml: {fact}.{value}: {w!r} is not a word")
    return _Scanner(_trie(words), words, tuple(patterns))


def _forms(word: str, fold: Callable[[str], str]) -> set[str]:
    forms = {fold(word)}
    if fold is _folded:  # つーわていがく is 通話定額 spelled with a long-vowel mark
        forms |= spelled_out(normalize(word))
    forms.discard("")
    return forms


def _folded(text: str) -> str:
    return squeeze(normalize(text))


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@cache
def load_fact_words(path: Path = DATA_FILE) -> FactWords:
    raw = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError("facts.yaml: must be a mapping")
    folded: dict[str, Mapping[str, Any]] = {}
    exact: dict[str, Mapping[str, Any]] = {}
    for name in WORD_FACTS:
        section = raw.get(name)
        if not isinstance(section, dict):
            raise ValueError(f"facts.yaml: {name} must be a mapping of values to words")
        (exact if section.get("kana") == "exact" else folded)[name] = section
    amount = raw.get("amount") or {}
    units = _alternation(_folded(u) for u in _strs(amount.get("units"), "units"))
    prefixes = _alternation(_strs(amount.get("prefixes"), "prefixes"))
    suffixes = _alternation(_folded(s) for s in _strs(amount.get("bare_suffixes"), "suffixes"))
    return FactWords(
        folded=_scanner(folded, _folded),
        exact=_scanner(exact, _exact),
        contrast=tuple(_folded(w) for w in _strs(raw.get("contrast"), "contrast")),
        negation=tuple(_folded(w) for w in _strs(raw.get("negation"), "negation")),
        stem_negation=_stem_negation(raw.get("negation_after_stem")),
        not_negation=tuple(
            _folded(w) for w in _strs(raw.get("negation_except", []), "negation_except")
        ),
        right_after=tuple(
            _folded(w) for w in _strs(raw.get("negation_right_after"), "negation_right_after")
        ),
        # A blanked other number owns what follows it (予約番号はいらない): it ends the clause.
        clause_ends=(*(normalize(w) for w in _strs(raw.get("clause_ends"), "clause_ends")), "#"),
        window=int(raw.get("window", 7)),
        destination=_strs(raw.get("destination_marks"), "destination_marks"),
        origin=_strs(raw.get("origin_marks"), "origin_marks"),
        amount=re.compile(rf"({_NUMBER})(?:{units})"),
        amount_prefixed=re.compile(rf"(?:{prefixes})({_NUMBER})"),
        bare_amount=re.compile(
            rf"^([0-9]{{1,3}}(?:,[0-9]{{3}})+|[1-9][0-9]{{2,6}})(?:{suffixes})?[.!?]*$"
        ),
        amount_max=int(amount.get("max", 1_000_000)),
        other_numbers=_trie(_folded(w) for w in _strs(raw.get("other_numbers", []), "numbers")),
    )


def _stem_negation(raw: Any) -> re.Pattern[str] | None:
    """One kana finishing a verb stem, then a negative ending (が|ずに, か|ないで)."""
    if not raw:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("stem_ends"), str):
        raise ValueError("facts.yaml: negation_after_stem needs stem_ends and endings")
    ends = _strs(raw.get("endings"), "negation_after_stem.endings")
    kana = "".join(sorted(set(_folded(raw["stem_ends"]))))
    return re.compile(rf"[{re.escape(kana)}](?:{_alternation(_folded(e) for e in ends)})")


# ---- finding words ---------------------------------------------------------------------


def _clause(after: str, ends: Sequence[str]) -> str:
    cut = len(after)
    for e in ends:
        i = after.find(e)
        if i != -1:
            cut = min(cut, i)
    return after[:cut]


def _negated(clause: str, words: FactWords) -> bool:
    if clause.startswith(words.right_after):
        return True
    for ok in words.not_negation:
        clause = clause.replace(ok, "|")
    if any(n in clause for n in words.negation):
        return True
    return words.stem_negation is not None and words.stem_negation.search(clause) is not None


def _collect(scanner: _Scanner, form: str, words: FactWords) -> dict[str, list[_Hit]]:
    out: dict[str, list[_Hit]] = {}
    for fact, value, _start, end in scanner.hits(form):
        after = form[end : end + words.window + 2]
        clause = _clause(after[: words.window], words.clause_ends)
        contrasted = any(c in clause for c in words.contrast)
        negated = _negated(clause, words)
        out.setdefault(fact, []).append(_Hit(value, negated, contrasted, after))
    return out


def _all_hits(folded: str, exact: str, words: FactWords) -> dict[str, list[_Hit]]:
    if words.other_numbers is not None:
        folded = words.other_numbers.sub("#", folded)
    hits = _collect(words.folded, folded, words)
    if "ー" in folded:
        # A long-vowel spelling (つーわていがく) may hide a word; only facts still unknown
        # take what the spelled-out form finds.
        for v in spelled_out(folded):
            for fact, found in _collect(words.folded, v, words).items():
                hits.setdefault(fact, found)
    hits.update(_collect(words.exact, exact, words))
    return hits


def _one(values: Iterable[str]) -> str | None:
    """The value stated, or None when nothing or several different things were."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _stated(hits: Sequence[_Hit]) -> str | None:
    return _one(h.value for h in hits if not h.contrasted and not h.negated)


def _keep_number(hits: Sequence[_Hit]) -> bool | None:
    # 転出じゃなくて / MNPはしない / 番号を変えない: a number fact taken back states the
    # opposite, which is a statement too.
    said = {(h.value == "true") != (h.negated or h.contrasted) for h in hits}
    return said.pop() if len(said) == 1 else None


def _carrier(hits: Sequence[_Hit], words: FactWords) -> str | None:
    named = [h for h in hits if not h.contrasted and not h.negated]
    going = [h for h in named if h.after.startswith(words.destination)]
    if going:
        return _one(h.value for h in going)
    return _one(h.value for h in named if not h.after.startswith(words.origin))


# ---- amounts ---------------------------------------------------------------------------


def _under_man(text: str) -> int | None:
    if not text:
        return 0
    plain = text.replace(",", "")
    if plain.isdigit():
        return int(plain) if _GROUPED.fullmatch(text) else None
    total, cur = 0, None
    for ch in plain:
        if ch.isdigit() or ch in _KANJI_DIGITS:
            d = int(ch) if ch.isdigit() else _KANJI_DIGITS[ch]
            cur = d if cur is None else cur * 10 + d
        elif ch in _KANJI_UNITS:
            total += (1 if cur is None else cur) * _KANJI_UNITS[ch]
            cur = None
        else:
            return None
    return total + (cur or 0)


def parse_amount(number: str) -> int | None:
    """1,078 / 990 / 千 / 千五百 / 2千 / 1万 → yen; None when it is not a number."""
    head, man, tail = number.partition("万")
    if man:
        high = _under_man(head) if head else 1
        low = _under_man(tail)
        if high is None or low is None:
            return None
        return high * 10_000 + low
    return _under_man(number) or None


def _amount(text: str, words: FactWords) -> int | None:
    # Read where slashes and hyphens still stand: 11/20 and 2019/4/1 are dates, not 1120円.
    found = [m.group(1) for m in words.amount.finditer(text)]
    found += [m.group(1) for m in words.amount_prefixed.finditer(text)]
    bare = words.bare_amount.match(text)
    if bare:
        found.append(bare.group(1))
    amounts = {a for a in map(parse_amount, found) if a and 0 < a <= words.amount_max}
    return amounts.pop() if len(amounts) == 1 else None


# ---- the contract ----------------------------------------------------------------------


def extract_facts(text: str, today: date) -> Facts:
    """Every fact ``text`` states for sure (see module docstring). Never raises.
    ``today`` is part of the contract for facts that depend on it; none do yet."""
    del today
    words = load_fact_words()
    raw = text if isinstance(text, str) else ""
    norm = normalize(raw)
    folded = squeeze(norm)
    if not folded:
        return Facts()
    hits = _all_hits(folded, _exact(raw), words)
    return Facts(
        plan=_stated(hits.get("plan", ())),
        sim=_stated(hits.get("sim", ())),
        keep_number=_keep_number(hits.get("keep_number", ())),
        carrier=_carrier(hits.get("carrier", ()), words),
        option=_one(h.value for h in hits.get("option", ()) if not h.contrasted),
        amount_yen=_amount(norm.replace(" ", ""), words),
    )
