"""The lexicon (data/intents.yaml) and topic scoring against it.

Scoring works on the compact normalised message (see normalize.compact):
1. every word of every topic found in the message is a hit; the longest hits claim their
   characters first, so a shorter word inside a longer one of *another* topic does not
   count (乗り換え inside 乗り換え先, 解約 inside 解約金);
2. a group counts when all its parts occur outside words claimed by other topics and
   it adds something beyond the topic's own word hits;
3. only when no word matched at all, kana/latin words of four or more characters are
   looked for with one typo (two from eight characters), at a reduced weight;
4. a generic topic (cancel) scores only when no specific topic did.

Every kanji word also matches its hiragana reading (pykakasi, read once into
data/readings.json by `python -m core.nlu.readings`; a word missing there is read at load),
so a customer
typing only hiragana (さいていりようきかん) is understood without listing each reading.
Messages are respelled first (Lexicon.respell): IME slips (解役) and Kansai forms (でけへん).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.intent import Command, DateRole
from core.nlu.normalize import compact, normalize
from core.nlu.scoring import Index, TopicWords, build_index, has_kanji, score
from core.yaml_data import load_yaml

DATA_FILE = Path(__file__).parent / "data" / "intents.yaml"
READINGS_FILE = Path(__file__).parent / "data" / "readings.json"
LABEL_MAX = 20
# Customers who type in hiragana only (かいやくできない) must hit kanji words too, so each
# kanji word also matches its reading. Short readings (かぞく, つま) are too likely to occur
# inside unrelated hiragana, so only readings of at least this many kana are added.
READING_MIN = 4

TOPIC_IDS = (
    "cancel",
    "end_date",
    "mnp",
    "option",
    "initial",
    "esim",
    "sim_return",
    "fees",
    "device",
    "withdraw",
    "multi_line",
    "still_works",
    "cannot_cancel",
    "blacklist",
    "next_carrier",
    "checklist",
    "min_period",
    "proration",
    "support",
)


OFF_TOPIC = "off_topic"  # scored like a topic, never offered as one


class LexiconError(ValueError):
    """The lexicon data is malformed (caught at load, never at a customer's message)."""


@dataclass(frozen=True)
class Term:
    text: str  # compact normalised
    weight: float


@dataclass(frozen=True)
class Group:
    parts: tuple[str, ...]  # compact normalised
    weight: float


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    generic: bool
    terms: tuple[Term, ...]
    groups: tuple[Group, ...]
    unless: tuple[str, ...] = ()  # words that mean this topic is not meant
    vetoed_to: str = ""  # where its score goes when vetoed (mnp -> cancel)


@dataclass(frozen=True)
class Clauses:
    """How a long message is weighed: the clauses with an asking word decide."""

    asking: tuple[str, ...] = ()
    background_weight: float = 1.0
    # Topics that are themselves a question (乗り換え先: どこがいい, おすすめ): named in a
    # clause that does not ask (次の会社はもう決めてある), they are not being asked.
    asked_only: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compare:
    """ "A と B、どっちがいい？": a choice between two named topics is asked back with
    exactly those topics as buttons, even a generic one (普通の解約)."""

    words: tuple[str, ...] = ()
    # Topics that are themselves about choosing (乗り換え先: povoとahamoどっちがいい) are
    # the subject of the question, not one of the things compared.
    about_choosing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scoring:
    min_score: float
    ambiguity_ratio: float
    max_candidates: int
    fuzzy_weight: float
    # A specific topic scoring below this, outscored by the generic one, is asked about
    # rather than answered (端末を解約したい: the instalments, or just cancelling?).
    weak_score: float = 0.0


@dataclass(frozen=True, eq=False)  # compared by identity: it keys per-node caches
class Lexicon:
    topics: tuple[Topic, ...]
    commands: Mapping[str, Command]  # compact word -> command
    prefix_fillers: tuple[str, ...]  # longest first
    suffix_fillers: tuple[str, ...]
    greetings: tuple[str, ...]
    thanks: tuple[str, ...]
    choice_words: tuple[frozenset[str], ...]
    scoring: Scoring
    # IME slips (解役) and dialect (でけへん) -> the spelling the words below are written in;
    # longest first.
    spellings: tuple[tuple[str, str], ...] = ()
    index: Index | None = None  # built from topics at load (scoring.build_index)
    clauses: Clauses = Clauses()
    compare: Compare = Compare()
    # Word -> what a date next to it is the date of (date_roles), longest first.
    date_roles: tuple[tuple[str, DateRole], ...] = ()
    topic_date_roles: Mapping[str, DateRole] = field(default_factory=dict)

    def respell(self, text: str) -> str:
        """``text`` (compact normalised) with known misspellings and dialect forms
        replaced by the standard spelling."""
        for wrong, right in self.spellings:
            if wrong in text:
                text = text.replace(wrong, right)
        return text

    def topic(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)


def key(word: str) -> str:
    """The form a lexicon word and a message are compared in."""
    return compact(normalize(word))


@lru_cache(maxsize=1)
def _kakasi() -> Any:
    # Imported only when a word's reading is not in data/readings.json: building the
    # converter costs half a second of start-up.
    import pykakasi

    return pykakasi.kakasi()  # type: ignore[no-untyped-call]  # the library has no hints


@lru_cache(maxsize=1)
def _stored_readings() -> dict[str, str]:
    try:
        with READINGS_FILE.open(encoding="utf-8") as fh:
            stored = json.load(fh)
    except FileNotFoundError:
        return {}
    return stored if isinstance(stored, dict) else {}


def read_aloud(word: str) -> str:
    """Hiragana reading of ``word`` by pykakasi (compact normalised), "" without kanji."""
    if not has_kanji(word):
        return ""
    return key("".join(part["hira"] for part in _kakasi().convert(word)))


def reading(word: str) -> str:
    """Hiragana reading of ``word`` (compact normalised) when it has kanji, else ""."""
    if not has_kanji(word):
        return ""
    stored = _stored_readings().get(word)
    return stored if stored is not None else read_aloud(word)


def _words(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise LexiconError(f"{where}: expected a list of words")
    out: list[str] = []
    for w in raw:
        # YAML 1.1 turns bare yes/no into booleans and 0570 into a number: insist on text.
        if not isinstance(w, str):
            raise LexiconError(f"{where}: {w!r} is not text (quote it in the YAML)")
        k = key(w) or normalize(w).replace(" ", "")
        if not k:
            raise LexiconError(f"{where}: {w!r} normalises to nothing")
        out.append(k)
    return tuple(dict.fromkeys(out))


def _topic(topic_id: str, raw: Any, no_reading: frozenset[str] = frozenset()) -> Topic:
    if not isinstance(raw, dict):
        raise LexiconError(f"topic {topic_id}: expected a mapping")
    label = raw.get("label")
    if not isinstance(label, str) or not label or len(label) > LABEL_MAX:
        raise LexiconError(f"topic {topic_id}: label must be 1–{LABEL_MAX} characters")
    terms_raw = raw.get("terms", {})
    if not isinstance(terms_raw, dict) or not terms_raw:
        raise LexiconError(f"topic {topic_id}: terms must be a non-empty mapping")
    terms: dict[str, float] = {}
    for word, weight in terms_raw.items():
        # 0: a shield, a longer phrase that is not this topic's (今すぐ解約 for blacklist).
        if not isinstance(word, str) or not isinstance(weight, int | float) or weight < 0:
            raise LexiconError(f"topic {topic_id}: bad term {word!r}: {weight!r}")
        k = key(word)
        if not k:
            raise LexiconError(f"topic {topic_id}: term {word!r} normalises to nothing")
        terms[k] = max(float(weight), terms.get(k, 0.0))
    for k, weight in list(terms.items()):
        kana = reading(k)
        if len(kana) >= READING_MIN and kana not in terms and k not in no_reading:
            terms[kana] = weight
    groups: list[Group] = []
    for g in raw.get("groups", []) or []:
        if not isinstance(g, list) or len(g) < 3 or not isinstance(g[0], int | float):
            raise LexiconError(f"topic {topic_id}: group {g!r} must be [weight, part, part…]")
        groups.append(Group(_words(g[1:], f"topic {topic_id} group"), float(g[0])))
    return Topic(
        id=topic_id,
        label=label,
        generic=bool(raw.get("generic", False)),
        terms=tuple(Term(t, w) for t, w in terms.items()),
        groups=tuple(groups),
        unless=_words(raw.get("unless") or [], f"topic {topic_id} unless"),
        vetoed_to=_vetoed_to(topic_id, raw.get("vetoed_to")),
    )


def _topic_ids(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or any(t not in TOPIC_IDS for t in raw):
        raise LexiconError(f"{where}: expected a list of topic ids")
    return tuple(raw)


def _vetoed_to(topic_id: str, raw: Any) -> str:
    if raw is None:
        return ""
    if raw not in TOPIC_IDS or raw == topic_id:
        raise LexiconError(f"topic {topic_id}: vetoed_to {raw!r} is not another topic")
    return str(raw)


def parse_lexicon(data: Any) -> Lexicon:
    if not isinstance(data, dict):
        raise LexiconError("lexicon: expected a mapping at the top")
    topics_raw = data.get("topics")
    if not isinstance(topics_raw, dict):
        raise LexiconError("lexicon: topics missing")
    missing = set(TOPIC_IDS) - set(topics_raw)
    extra = set(topics_raw) - set(TOPIC_IDS)
    if missing or extra:
        raise LexiconError(f"lexicon: topics missing {sorted(missing)}, unknown {sorted(extra)}")
    no_reading = frozenset(_words(data.get("no_reading", []), "no_reading"))
    topics = tuple(_topic(tid, topics_raw[tid], no_reading) for tid in TOPIC_IDS)
    off_raw = data.get("off_topic") or {}
    off_topic = (
        _topic(OFF_TOPIC, {"label": "off topic", **off_raw}, no_reading)
        if off_raw
        else Topic(OFF_TOPIC, "off topic", False, (), ())
    )
    commands: dict[str, Command] = {}
    for name, words in (data.get("commands") or {}).items():
        command = Command(name)
        for w in _words(words, f"command {name}"):
            if commands.get(w, command) != command:
                raise LexiconError(f"command word {w!r} means two commands")
            commands[w] = command
    fillers = data.get("fillers") or {}
    spellings_raw = data.get("spellings") or {}
    if not isinstance(spellings_raw, dict):
        raise LexiconError("spellings: expected a mapping wrong -> right")
    spellings: dict[str, str] = {}
    for wrong, right in spellings_raw.items():
        w, r = key(str(wrong)), key(str(right))
        if not w or not r or w == r:
            raise LexiconError(f"spellings: bad entry {wrong!r} -> {right!r}")
        spellings[w] = r
    s = data.get("scoring") or {}
    return Lexicon(
        topics=topics,
        commands=commands,
        prefix_fillers=tuple(sorted(_words(fillers.get("prefix", []), "prefix"), key=len))[::-1],
        suffix_fillers=tuple(sorted(_words(fillers.get("suffix", []), "suffix"), key=len))[::-1],
        greetings=_words(data.get("greetings", []), "greetings"),
        thanks=_words(data.get("thanks", []), "thanks"),
        choice_words=tuple(
            frozenset(_words(g, "choice_words")) for g in data.get("choice_words", [])
        ),
        scoring=Scoring(
            min_score=float(s.get("min_score", 2)),
            ambiguity_ratio=float(s.get("ambiguity_ratio", 0.75)),
            max_candidates=int(s.get("max_candidates", 4)),
            fuzzy_weight=float(s.get("fuzzy_weight", 0.8)),
            weak_score=float(s.get("weak_score", 0.0)),
        ),
        spellings=tuple(sorted(spellings.items(), key=lambda wr: -len(wr[0]))),
        index=build_index(
            [
                TopicWords(
                    t.id,
                    t.generic,
                    tuple((w.text, w.weight) for w in t.terms),
                    tuple((g.parts, g.weight) for g in t.groups),
                    t.unless,
                    t.vetoed_to,
                )
                for t in (*topics, off_topic)
            ],
            float(s.get("fuzzy_weight", 0.8)),
            _negation(data.get("negation") or {}),
        ),
        clauses=Clauses(
            asking=_words((data.get("clauses") or {}).get("asking", []), "clauses.asking"),
            background_weight=float((data.get("clauses") or {}).get("background_weight", 1.0)),
            asked_only=_topic_ids((data.get("clauses") or {}).get("asked_only", []), "asked_only"),
        ),
        compare=Compare(
            words=_words((data.get("compare") or {}).get("words", []), "compare.words"),
            about_choosing=tuple((data.get("compare") or {}).get("about_choosing", [])),
        ),
        date_roles=_date_roles(data.get("date_roles") or {}),
        topic_date_roles=_topic_date_roles(data.get("topic_date_roles") or {}),
    )


def _negation(raw: Any) -> re.Pattern[str] | None:
    """The pattern that, matched right after a word, takes the word back."""
    if not raw:
        return None

    def alt(name: str) -> str:
        words = sorted(_words(raw.get(name, []), f"negation.{name}"), key=len, reverse=True)
        return "|".join(re.escape(w) for w in words) or "(?!)"

    between, after, unless = alt("between"), alt("after"), alt("except_after")
    # One kana may finish a word written as its stem (乗り換|え ではなく, 取り消|し じゃなくて).
    lead = rf"[ぁ-ゖ]?(?:{between}){{0,2}}"
    # A stem's own negative ending (乗り換|えない, 引き継|がずに): one stem kana, nothing between.
    stem_ends = raw.get("stem_ends", "")
    if not isinstance(stem_ends, str):
        raise LexiconError("negation.stem_ends: expected a string of kana")
    kana = re.escape("".join(sorted(set(normalize(stem_ends)))))
    stem = rf"[{kana}](?:{alt('after_stem')})" if kana else "(?!)"
    ending = r"(?!は)[ぁ-ゖ]?ず(?![っつら])"
    guard = rf"(?!{lead}(?:{unless}))"  # しないと (= must) is no refusal
    return re.compile(rf"{guard}(?:{lead}(?:{after})|{stem})|{ending}")


def _date_roles(raw: Any) -> tuple[tuple[str, DateRole], ...]:
    if not isinstance(raw, dict):
        raise LexiconError("date_roles: expected role -> words")
    pairs = [
        (w, DateRole(role)) for role, words in raw.items() for w in _words(words, f"role {role}")
    ]
    return tuple(sorted(pairs, key=lambda wr: -len(wr[0])))


def _topic_date_roles(raw: Any) -> dict[str, DateRole]:
    if not isinstance(raw, dict) or not set(raw) <= set(TOPIC_IDS):
        raise LexiconError("topic_date_roles: expected topic id -> role")
    return {t: DateRole(r) for t, r in raw.items()}


def kanji_words() -> set[str]:
    """Every topic word of the lexicon data (compact normalised) that has kanji."""
    with DATA_FILE.open(encoding="utf-8") as fh:
        data = load_yaml(fh)
    raw = [*(data.get("topics") or {}).values(), data.get("off_topic") or {}]
    return {k for t in raw for w in (t.get("terms") or {}) if has_kanji(k := key(str(w)))}


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    with DATA_FILE.open(encoding="utf-8") as fh:
        return parse_lexicon(load_yaml(fh))


def topic_ids() -> tuple[str, ...]:
    return tuple(t.id for t in load_lexicon().topics)


def topic_label(topic_id: str) -> str:
    """Short label (≤ 20 characters) for a clarification button; KeyError if unknown."""
    return load_lexicon().topic(topic_id).label


# --- scoring -------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicScores:
    specific: tuple[tuple[str, float], ...]  # best first
    generic: tuple[tuple[str, float], ...]
    off_topic: float = 0.0  # weight of words about what the bot does not handle


def score_map(
    text: str, lexicon: Lexicon, *, typos: bool = True, breaks: tuple[int, ...] = ()
) -> dict[str, float]:
    """Topic id -> score of ``text`` (compact normalised), off_topic included; ``breaks``:
    where sentences end (a group's parts must share one)."""
    if lexicon.index is None:  # a Lexicon built by hand, not by parse_lexicon
        raise LexiconError("lexicon has no index")
    return score(lexicon.index, text, typos=typos, breaks=breaks)


def rank(scores: Mapping[str, float], lexicon: Lexicon) -> TopicScores:
    generic_ids = {t.id for t in lexicon.topics if t.generic}
    ranked = sorted(((k, v) for k, v in scores.items() if v > 0), key=lambda kv: -kv[1])
    return TopicScores(
        specific=tuple(kv for kv in ranked if kv[0] not in generic_ids and kv[0] != OFF_TOPIC),
        generic=tuple(kv for kv in ranked if kv[0] in generic_ids),
        off_topic=scores.get(OFF_TOPIC, 0.0),
    )


def score_topics(text: str, lexicon: Lexicon, *, typos: bool = True) -> TopicScores:
    """Score every topic against ``text`` (already compact normalised)."""
    return rank(score_map(text, lexicon, typos=typos), lexicon)
