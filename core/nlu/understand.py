"""Free text -> Intent, in a fixed order of precedence:

no input → global command (the whole message is one) → the current node's choices →
off-topic (weather, APN...) → a date when the node asks for one → topics → a choice word
inside a longer reply → any date → thanks → greeting → unknown.

Topics are scored on the message as typed (misspellings respelled, long vowels spelled
out); a word taken back (MNPはしない) counts nothing, and in a long message the clause that
asks outweighs background clauses. Only when nothing scores is the romaji variant tried.
Every intent read from a message carries its Facts: what extract_facts finds plus every
date with its role (date_facts), so later questions are not asked again.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache

from core.intent import ChoiceSpec, DateRole, Expectation, Facts, Intent, IntentKind
from core.nlu.date_facts import date_facts
from core.nlu.dates import NOTHING, DateParse, flatten, scan_dates
from core.nlu.facts import extract_facts
from core.nlu.lexicon import (
    Lexicon,
    TopicScores,
    key,
    load_lexicon,
    rank,
    score_map,
)
from core.nlu.normalize import compact, normalize, variants

CHOICE_FUZZY_RATIO = 0.75  # difflib ratio for a mistyped choice label ("のりかえ" ~ "のりかい")
CHOICE_CONTAIN_SHARE = 0.4  # a label inside a longer reply must be a fair part of it
_NUMBER = re.compile(r"^(\d{1,2})(?:番目?|つ目|個目|番目の|つめ|こめ)?$")
_KANJI_ORDINALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}
_KANJI_NUMBER = re.compile(r"^([一二三四五六七八])(?:番目?|つ目)$")


def _trim(text: str, lexicon: Lexicon) -> str:
    """Strip politeness around a short answer ("えっと、2番でお願いします" -> "2")."""
    changed = True
    while changed and text:
        changed = False
        for f in lexicon.prefix_fillers:
            if text.startswith(f) and len(text) > len(f):
                text, changed = text[len(f) :], True
                break
        for f in lexicon.suffix_fillers:
            if text.endswith(f) and len(text) > len(f):
                text, changed = text[: -len(f)], True
                break
    return text


def _choice_forms(choice: ChoiceSpec, lexicon: Lexicon) -> frozenset[str]:
    forms = {key(choice.label), key(choice.value), *(key(s) for s in choice.synonyms)}
    forms.discard("")
    # A choice meaning "yes" also accepts every other way of saying yes.
    for group in lexicon.choice_words:
        if forms & group:
            forms |= group
    return frozenset(forms)


@dataclass(frozen=True)
class _ChoiceTable:
    """A node's choices in matching form, computed once per node (not per message)."""

    forms: tuple[tuple[frozenset[str], ChoiceSpec], ...]
    own_words: tuple[tuple[tuple[str, ...], ChoiceSpec], ...]  # for loose_choice
    # Each choice's forms of two characters or more, longest first.
    long_forms: tuple[tuple[tuple[str, ...], ChoiceSpec], ...] = ()
    longest: int = 0  # length of the longest form
    # Forms of two characters or more by length -> (form, index of its choice).
    by_length: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)


@lru_cache(maxsize=512)
def _choice_table(expect: Expectation, lexicon: Lexicon) -> _ChoiceTable:
    generic = frozenset().union(*lexicon.choice_words)
    forms = [(_choice_forms(c, lexicon), c) for c in expect.choices]
    own = []
    for c in expect.choices:
        words = (key(c.label), key(c.value), *(key(w) for w in c.synonyms))
        # Only the flow's own words, and no bare yes/no word: the はい of 番号はいらない
        # and the そう of そうだなあ are not answers.
        own.append((tuple(x for x in words if len(x) >= 2 and x not in generic), c))
    return _ChoiceTable(
        forms=tuple(forms),
        own_words=tuple(own),
        long_forms=tuple(
            (tuple(sorted((x for x in f if len(x) >= 2), key=len, reverse=True)), c)
            for f, c in forms
        ),
        longest=max((len(x) for f, _ in forms for x in f), default=0),
        by_length=_by_length(forms),
    )


def _by_length(
    forms: list[tuple[frozenset[str], ChoiceSpec]],
) -> dict[int, tuple[tuple[str, int], ...]]:
    out: dict[int, list[tuple[str, int]]] = {}
    for i, (f, _) in enumerate(forms):
        for x in sorted(f):
            if len(x) >= 2:
                out.setdefault(len(x), []).append((x, i))
    return {n: tuple(v) for n, v in out.items()}


def _number(trimmed: str) -> int | None:
    m = _NUMBER.match(trimmed)
    if m:
        return int(m.group(1))
    k = _KANJI_NUMBER.match(trimmed)
    return _KANJI_ORDINALS[k.group(1)] if k else None


@lru_cache(maxsize=4096)
def _latin_word(form: str) -> re.Pattern[str] | None:
    if form.isascii() and form.isalpha():
        return re.compile(rf"(?<![a-z]){re.escape(form)}(?![a-z])")
    return None


def _occurs(form: str, text: str) -> bool:
    """``form`` inside ``text``; a latin form only as a whole word, so the choice value
    "cancel" is not found in "cancellation fee" (Japanese has no word gaps to respect)."""
    if form not in text:
        return False
    word = _latin_word(form)
    return word is None or word.search(text) is not None


@lru_cache(maxsize=4096)
def _chars(form: str) -> Counter[str]:
    return Counter(form)


def pick_choice(
    text: str, expect: Expectation, lexicon: Lexicon | None = None, *, typos: bool = True
) -> str | None:
    """The value of the choice ``text`` picks among ``expect.choices``, or None. With
    ``typos`` a near miss of a label also counts."""
    lex = lexicon or load_lexicon()
    return _pick(lex.respell(compact(normalize(text))), expect, lex, typos=typos)


def _pick(whole: str, expect: Expectation, lex: Lexicon, *, typos: bool) -> str | None:
    """pick_choice on the compact respelled message."""
    if not expect.choices or not whole:
        return None
    trimmed = _trim(whole, lex)
    found = _pick_exact(whole, trimmed, expect, lex)
    if found is not None or not typos:
        return found or None
    return _pick_typo(trimmed, expect, lex)


def _pick_exact(whole: str, trimmed: str, expect: Expectation, lex: Lexicon) -> str | None:
    """The choice ``whole`` names as typed, "" when it names none (then a typo may), or
    None for a number that picks no button."""
    choices = expect.choices
    n = _number(trimmed)
    if n is not None:
        return choices[n - 1].value if 1 <= n <= len(choices) else None
    table = _choice_table(expect, lex)
    forms = table.forms
    for candidate in (trimmed, whole):
        exact = [c for f, c in forms if candidate in f]
        if len(exact) == 1:
            return exact[0].value
    # The reply says more than the label ("解約だけしたいです" for 解約だけ): take the choice
    # whose longest form inside the reply is longest, if that is unambiguous.
    inside: list[tuple[int, ChoiceSpec]] = []
    for longest_first, c in table.long_forms:
        found = next((len(x) for x in longest_first if _occurs(x, whole)), 0)
        # Measured against the reply without its politeness (通話simです -> 通話sim).
        if found and found >= CHOICE_CONTAIN_SHARE * len(trimmed):
            inside.append((found, c))
    inside.sort(key=lambda lc: -lc[0])
    if inside and (len(inside) == 1 or inside[0][0] > inside[1][0]):
        return inside[0][1].value
    return ""


def _pick_typo(trimmed: str, expect: Expectation, lex: Lexicon) -> str | None:
    """A typo in a short answer: the closest form, if clearly closest. Never for numbers:
    1800 is a different amount from the 1,500円 button, not a slip of the finger."""
    if not expect.choices:
        return None
    table = _choice_table(expect, lex)
    # difflib's ratio cannot reach the bar when the reply is far longer than every form.
    too_long = 2 * table.longest < CHOICE_FUZZY_RATIO * (len(trimmed) + table.longest)
    if too_long or len(trimmed) < 2 or any(ch.isdigit() for ch in trimmed):
        return None
    # Only forms of a length difflib's ratio can reach the bar with: 2·min ≥ r·(la + lb).
    la = len(trimmed)
    lo, hi = (
        math.ceil(la * CHOICE_FUZZY_RATIO / (2 - CHOICE_FUZZY_RATIO)),
        math.floor(la * (2 - CHOICE_FUZZY_RATIO) / CHOICE_FUZZY_RATIO),
    )
    have = Counter(trimmed)
    ratios = [0.0] * len(expect.choices)
    for length in range(max(lo, 2), hi + 1):
        for form, i in table.by_length.get(length, ()):
            ratios[i] = max(ratios[i], _ratio(trimmed, have, form))
    best = sorted(zip(ratios, expect.choices, strict=True), key=lambda rc: -rc[0])
    top = best[0]
    if top[0] >= CHOICE_FUZZY_RATIO and (len(best) == 1 or best[1][0] < top[0]):
        return top[1].value
    return None


def _ratio(a: str, a_chars: Counter[str], b: str) -> float:
    """difflib's similarity of ``a`` and ``b``, 0 when even its upper bounds (lengths,
    then characters in common) are below what a typo needs: most forms are no typo of
    the reply at all, and difflib's own set-up costs more than these checks."""
    la, lb = len(a), len(b)
    if 2 * min(la, lb) < CHOICE_FUZZY_RATIO * (la + lb):
        return 0.0
    common = sum(min(n, a_chars[ch]) for ch, n in _chars(b).items())
    if 2 * common < CHOICE_FUZZY_RATIO * (la + lb):
        return 0.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def loose_choice(whole: str, expect: Expectation, lex: Lexicon) -> str | None:
    """The one choice whose word occurs anywhere in a longer reply ("電話できるやつ" at the
    SIM question), or None when none or several do. Asked only after topics found nothing,
    so a question about something else is never read as an answer."""
    hits = {
        c.value
        for words, c in _choice_table(expect, lex).own_words
        if any(_occurs(x, whole) for x in words)
    }
    return hits.pop() if len(hits) == 1 else None


def _date_intent(parsed: DateParse) -> Intent:
    if parsed.date is not None:
        return Intent(IntentKind.DATE, value=parsed.date.isoformat(), date=parsed.date)
    if parsed.vague and parsed.candidates:
        # "2週間くらい前": offer the likely days rather than guess one or ask from scratch.
        return Intent(
            IntentKind.VAGUE_DATE, value=parsed.matched, date_candidates=parsed.candidates
        )
    return Intent(IntentKind.BAD_DATE, value=parsed.matched)


def _says_one_of(norm: str, whole: str, phrases: tuple[str, ...]) -> bool:
    """Latin phrases match whole words ("hi" is not in "this"); Japanese ones anywhere."""
    words = set(re.findall(r"[a-z]+", norm))
    for g in phrases:
        if g.isascii():
            if g in words:
                return True
        elif g in whole:
            return True
    return False


# A clause ends at punctuation or at a conjunction that closes a reason or a contrast
# (…ので, …けど, …ですが): "まだ使えてるけど取り消せる？" asks only its second half.
_CLAUSE = re.compile(
    r"(?:[^,.?!\n]+?(?:けれども|けれど|けど|ので|のですが|んですが|ですが|[,.?!\n]+|$))"
)
_LEADS_ON = ("けれども", "けれど", "けど", "ので", "ですが")
_SENTENCE = re.compile(r"[^.?!\n]+[.?!\n]*")


def _sentence_breaks(norm: str, whole: str, lex: Lexicon) -> tuple[int, ...]:
    """Where sentences end in ``whole`` (the compact message), so a group's parts are
    looked for within one sentence ("家族と同じキャリア。…番号はもう使わない" is no 番号+同じ)."""
    if not any(ch in ".?!\n" for ch in norm.rstrip(".?!\n")):
        return ()  # one sentence: nothing to bound
    ends: list[int] = []
    pos = 0
    for sentence in _SENTENCE.findall(norm):
        pos += len(lex.respell(compact(sentence)))
        ends.append(pos)
    return tuple(ends[:-1]) if ends and ends[-1] == len(whole) else ()


def _weighed_scores(norm: str, whole: str, lex: Lexicon, *, typos: bool = True) -> TopicScores:
    """Topic scores of the message. In a long message whose asking clause (教えて, したい,
    ？) names a topic, words of background clauses (夫の会社で携帯が支給されるので…) count
    only ``background_weight``: the clause that asks outweighs them. Groups spanning both
    (契約して3日だけど取り消せる？) keep their weight: they are how the question is put."""
    scores = score_map(whole, lex, typos=typos, breaks=_sentence_breaks(norm, whole, lex))
    clauses = [c for c in _CLAUSE.findall(norm) if c.strip(" ,.")]
    if len(clauses) < 2 or not scores:
        return rank(scores, lex)
    shapes = [(lex.respell(compact(c)), "?" in c) for c in clauses]
    # A clause closed by a conjunction (乗り換えたいけど, 解約したいので) is background
    # whatever it wishes: the question follows it.
    asking = [
        q or (any(w in c for w in lex.clauses.asking) and not raw.rstrip(" ,").endswith(_LEADS_ON))
        for (c, q), raw in zip(shapes, clauses, strict=True)
    ]
    if all(asking) or not any(asking):
        return rank(scores, lex)
    for (clause, _), asks in zip(shapes, asking, strict=True):
        if not asks:
            # A question topic named where nothing is asked (次の会社は決めてあるので…).
            for tid, sc in score_map(clause, lex, typos=False).items():
                if tid in scores and tid in lex.clauses.asked_only:
                    scores[tid] = max(0.0, scores[tid] - sc)
    asked_text = "".join(c for (c, _), a in zip(shapes, asking, strict=True) if a)
    asked = rank(score_map(asked_text, lex, typos=False), lex)
    if not any(sc >= lex.scoring.min_score for _, sc in asked.specific):
        # The question names no topic of its own (解約したい, 解約できてる？): the
        # background says which (契約して3日目だけど…) and keeps its full weight.
        return rank(scores, lex)
    weight = lex.clauses.background_weight
    for (clause, _), asks in zip(shapes, asking, strict=True):
        if not asks:
            for tid, sc in score_map(clause, lex, typos=False).items():
                if tid in scores and tid not in lex.clauses.asked_only:
                    scores[tid] = max(0.0, scores[tid] - (1 - weight) * sc)
    return rank(scores, lex)


def _compared(whole: str, lex: Lexicon) -> tuple[str, ...]:
    """The topics a "which is better, A or B?" message names, or () when it asks none.
    Scored on the whole message: the things compared sit in the clause before the one
    that asks (初期契約解除と普通の解約、|どっちがいいの？)."""
    if not any(w in whole for w in lex.compare.words):
        return ()
    scores = rank(score_map(whole, lex, typos=False), lex)
    named = [
        tid
        for tid, sc in (*scores.specific, *scores.generic)
        if sc >= lex.scoring.min_score and tid not in lex.compare.about_choosing
    ]
    return tuple(named[: lex.scoring.max_candidates])


def _facts(text: str, today: date, flat: str, found: tuple[DateParse, ...], lex: Lexicon) -> Facts:
    """What the message states (extract_facts) plus every date in it with its role."""
    return replace(extract_facts(text, today), dates=date_facts(flat, found, lex))


def _date_for(topic: str, facts: Facts, lex: Lexicon) -> date | None:
    """The date said with ``topic`` that answers the topic's first date question: only one
    whose role is the one that question asks for (月末 in a message about the bill is not
    a start date)."""
    role = lex.topic_date_roles.get(topic)
    return next((d.date for d in facts.dates if d.role is role and d.date), None)


def _along(facts: Facts) -> date | None:
    """A date said with a button's words ("解約を取り消したい、11/30予定"): one with a role."""
    return next((d.date for d in facts.dates if d.role is not DateRole.NONE and d.date), None)


def understand(text: str, expect: Expectation, today: date) -> Intent:
    """What the customer means by ``text`` at the node ``expect`` describes. Never raises
    (property-tested; no blanket except here, so a bug shows up in the tests)."""
    lex = load_lexicon()
    norm = normalize(text if isinstance(text, str) else "")
    if not norm:
        return Intent(IntentKind.NO_INPUT)
    whole = lex.respell(compact(norm))
    bare = norm.replace(" ", "")  # keeps "?" which compact drops
    trimmed = _trim(whole, lex) if whole else bare
    for form in (trimmed, whole, bare):
        command = lex.commands.get(form)
        if command is not None:
            return Intent(IntentKind.COMMAND, value=command.value)

    flat = flatten(text, norm)
    found = scan_dates(flat, today)
    parsed = found[0] if found else NOTHING  # the most specific: what a date question takes
    facts = _facts(text, today, flat, found, lex)
    # A date said with a button's words rides along, so the question it leads to is not
    # asked again. A date node's own buttons don't need it.
    along = None if expect.asks_date else _along(facts)
    value = _pick_exact(whole, trimmed, expect, lex) if expect.choices and whole else ""
    if value:
        return Intent(IntentKind.CHOICE, value=value, node=expect.node, date=along, facts=facts)
    s = lex.scoring
    scores = _weighed_scores(norm, whole, lex)
    ranked = [kv for kv in (*scores.specific, *scores.generic) if kv[1] >= s.min_score]
    for variant in () if ranked or scores.off_topic else variants(norm):
        scores = _weighed_scores(variant, lex.respell(compact(variant)), lex)
        ranked = [kv for kv in (*scores.specific, *scores.generic) if kv[1] >= s.min_score]
        if ranked:
            break
    # A label one typo away is the answer, unless the message clearly asks about a
    # different topic ("解約の手数料" is not a typo of the button 解約の手順).
    if value == "" and whole:
        value = _pick_typo(trimmed, expect, lex)
    if value and (not ranked or ranked[0][0] == value):
        return Intent(IntentKind.CHOICE, value=value, node=expect.node, date=along, facts=facts)

    # Weather, APN, a plan change: words about what the bot does not handle outweigh any
    # topic. Then 今日 in 「今日の天気は？」 answers no date question either.
    off = scores.off_topic >= s.min_score and all(sc < scores.off_topic for _, sc in ranked)
    # A vague date (月初, 先週) gives way to a topic the message also names.
    if expect.asks_date and parsed.found and not off and not (parsed.vague and ranked):
        return _date_intent(parsed)
    if off:
        return Intent(IntentKind.OFF_TOPIC, facts=facts)

    compared = _compared(whole, lex)
    if len(compared) >= 2:
        return Intent(IntentKind.AMBIGUOUS, candidates=compared, facts=facts)
    if scores.specific and scores.specific[0][1] >= s.min_score:
        best = scores.specific[0][1]
        close = tuple(tid for tid, sc in scores.specific if sc >= best * s.ambiguity_ratio)[
            : s.max_candidates
        ]
        if len(close) >= 2:
            return Intent(IntentKind.AMBIGUOUS, candidates=close, facts=facts)
        if best < s.weak_score and scores.generic and scores.generic[0][1] > best:
            # A weak specific word beside a stronger plain cancel (機種ごと解約したい):
            # ask which, rather than answer the specific card with confidence.
            pair = (close[0], scores.generic[0][0])
            return Intent(IntentKind.AMBIGUOUS, candidates=pair, facts=facts)
        return Intent(
            IntentKind.TOPIC, value=close[0], date=_date_for(close[0], facts, lex), facts=facts
        )
    if scores.generic and scores.generic[0][1] >= s.min_score:
        topic = scores.generic[0][0]
        return Intent(IntentKind.TOPIC, value=topic, date=_date_for(topic, facts, lex), facts=facts)

    value = loose_choice(whole, expect, lex)
    if value is not None:
        return Intent(IntentKind.CHOICE, value=value, node=expect.node, facts=facts)
    if parsed.found:
        return _date_intent(parsed)
    # Thanks first: "どうもありがとう" carries the greeting word どうも but says thank you.
    if _says_one_of(norm, whole, lex.thanks):
        return Intent(IntentKind.THANKS)
    if _says_one_of(norm, whole, lex.greetings):
        return Intent(IntentKind.START)
    return Intent(IntentKind.UNKNOWN, facts=facts)


def topic_ranking(text: str, top: int = 3) -> tuple[tuple[str, float], ...]:
    """The best-scoring topics of ``text`` with their scores, best first (specific topics
    before generic ones, as understand weighs them): the winner and its runners-up, for
    the development inspector. Read-only; understand() does not use it."""
    lex = load_lexicon()
    norm = normalize(text if isinstance(text, str) else "")
    if not norm:
        return ()
    scores = _weighed_scores(norm, lex.respell(compact(norm)), lex)
    ranked = [(tid, round(sc, 3)) for tid, sc in (*scores.specific, *scores.generic) if sc > 0]
    return tuple(ranked[:top])


def warm_up() -> None:
    """Load everything understanding needs (lexicon, readings, tables) now, at start-up,
    so the first customer's message does not pay for it."""
    load_lexicon()
    understand("解約したい", Expectation(node="menu"), date(2026, 1, 1))
