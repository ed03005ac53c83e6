"""Topic scoring over a lookup index built once at load (see lexicon.py for the rules).

Looking every lexicon word up in a message one by one costs a few hundred `str.find` calls
per message, and the typo search an edit distance per word: milliseconds on a message that
matches nothing. Here the words are indexed by their first two characters, so a message is
read once, position by position, and only words that can start there are compared; the
typo search only compares words that share a character pair with a kana/latin stretch of
the message, and only inside that stretch (a kana word's slip stays in its script).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

FUZZY_TEXT_MAX = 120  # typo search is quadratic; intent is stated early anyway
SLIP_ONLY_BELOW = 5  # shorter words are forgiven one replaced or swapped character only
SHORT_LATIN = 2  # latin terms this short must stand alone: "au" is not in "paused"
# A stretch of the message a kana/latin word may be mistyped in: no kanji in it.
_KANA_RUN = re.compile(r"[^\u4e00-\u9fff々]{3,}")


@dataclass(frozen=True)
class TopicWords:
    """One topic as scoring sees it: compact normalised words and groups."""

    id: str
    generic: bool
    terms: tuple[tuple[str, float], ...]
    groups: tuple[tuple[tuple[str, ...], float], ...]
    unless: tuple[str, ...] = ()  # any of these in the message: the topic is not meant
    # The topic that what a vetoed topic scored goes to: a carrier change that lets the
    # number go (番号は変わっていいのでauに移りたい) is not MNP but a plain cancellation.
    vetoed_to: str = ""


@dataclass(frozen=True)
class Fuzzy:
    text: str
    topic: int
    weight: float
    limit: int  # edits allowed
    need: int  # character pairs it must share with the stretch to be worth comparing


@dataclass(frozen=True)
class Index:
    topics: tuple[TopicWords, ...]
    by_two: dict[str, tuple[str, ...]]  # first two characters -> needles, longest first
    by_one: dict[str, tuple[str, ...]]  # one-character needles
    term_of: dict[str, tuple[tuple[int, float], ...]]  # needle -> (topic index, weight)
    groups_of: dict[str, tuple[tuple[int, int], ...]]  # part -> (topic index, group index)
    fuzzy: tuple[Fuzzy, ...]
    fuzzy_by_pair: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Short words (one slip only): each spelling with one character blanked out (a
    # replaced character) or two neighbours swapped -> the words it can be a slip of.
    slips: dict[str, tuple[int, ...]] = field(default_factory=dict)
    slip_lengths: tuple[int, ...] = ()
    fuzzy_weight: float = 0.8
    # Matched right after a word (MNPはしない): the word is taken back and counts nothing.
    negation: re.Pattern[str] | None = None


def has_kanji(word: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or ch == "々" for ch in word)


def typo_limit(term: str) -> int:
    # Typos worth forgiving are IME slips in kana and latin (かいやｋ, えすいむ); one wrong
    # kanji is usually another word (解約日 vs 解約金), so kanji words must match exactly.
    if has_kanji(term) or len(term) < 4:
        return 0
    return 2 if len(term) >= 8 else 1


def build_index(
    topics: Sequence[TopicWords], fuzzy_weight: float, negation: re.Pattern[str] | None = None
) -> Index:
    term_of: dict[str, list[tuple[int, float]]] = {}
    groups_of: dict[str, list[tuple[int, int]]] = {}
    fuzzy: list[Fuzzy] = []
    for ti, topic in enumerate(topics):
        for text, weight in topic.terms:
            term_of.setdefault(text, []).append((ti, weight))
            limit = typo_limit(text)
            if limit:
                # q-gram lemma: each edit spoils at most three character pairs (a swap).
                need = max(1, len(text) - 1 - 3 * limit)
                fuzzy.append(Fuzzy(text, ti, weight, limit, need))
        for gi, (parts, _) in enumerate(topic.groups):
            for p in dict.fromkeys(parts):
                groups_of.setdefault(p, []).append((ti, gi))
    vetoes = {w for t in topics for w in t.unless}
    needles = sorted({*term_of, *groups_of, *vetoes}, key=len, reverse=True)
    by_two: dict[str, list[str]] = {}
    by_one: dict[str, list[str]] = {}
    for n in needles:
        (by_two.setdefault(n[:2], []) if len(n) >= 2 else by_one.setdefault(n, [])).append(n)
    pairs: dict[str, list[int]] = {}
    slips: dict[str, list[int]] = {}
    for fi, f in enumerate(fuzzy):
        if len(f.text) < SLIP_ONLY_BELOW:
            for key in _slip_keys(f.text):
                slips.setdefault(key, []).append(fi)
            continue
        for p in {f.text[i : i + 2] for i in range(len(f.text) - 1)}:
            pairs.setdefault(p, []).append(fi)
    return Index(
        topics=tuple(topics),
        by_two={k: tuple(v) for k, v in by_two.items()},
        by_one={k: tuple(v) for k, v in by_one.items()},
        term_of={k: tuple(v) for k, v in term_of.items()},
        groups_of={k: tuple(v) for k, v in groups_of.items()},
        fuzzy=tuple(fuzzy),
        fuzzy_by_pair={k: tuple(v) for k, v in pairs.items()},
        fuzzy_weight=fuzzy_weight,
        negation=negation,
        slips={k: tuple(dict.fromkeys(v)) for k, v in slips.items()},
        slip_lengths=tuple(sorted({len(f.text) for f in fuzzy if len(f.text) < SLIP_ONLY_BELOW})),
    )


BLANK = "\0"
SHIELD = -1.0  # the weight a shield term's hit carries while scoring


def _slip_keys(word: str) -> set[str]:
    keys = {word[:i] + BLANK + word[i + 1 :] for i in range(len(word))}
    keys |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    return keys


def _latin_at(text: str, i: int) -> bool:
    return 0 <= i < len(text) and "a" <= text[i] <= "z"


def _counts_at(needle: str, text: str, start: int) -> bool:
    # Compact text has no spaces, so longer latin words ("cancel" in "tocancelmy") may
    # touch other letters; a short one that does is almost always part of another word.
    short_latin = len(needle) <= SHORT_LATIN and needle.isascii() and needle.isalpha()
    if short_latin and (_latin_at(text, start - 1) or _latin_at(text, start + len(needle))):
        return False
    # A needle that starts with a number starts a number: "0円" is not in "1800円".
    return not (needle[0].isdigit() and start > 0 and text[start - 1].isdigit())


def find_all(index: Index, text: str) -> dict[str, list[int]]:
    """Every indexed word (term or group part) found in ``text`` -> its start positions."""
    found: dict[str, list[int]] = {}
    by_two, by_one = index.by_two, index.by_one
    for i in range(len(text)):
        ones = by_one.get(text[i])
        if ones:
            for n in ones:
                if _counts_at(n, text, i):
                    found.setdefault(n, []).append(i)
        twos = by_two.get(text[i : i + 2])
        if twos:
            for n in twos:
                if text.startswith(n, i) and _counts_at(n, text, i):
                    found.setdefault(n, []).append(i)
    return found


def score(
    index: Index, text: str, *, typos: bool = True, breaks: tuple[int, ...] = ()
) -> dict[str, float]:
    """Topic id -> score for ``text`` (compact normalised); empty when nothing matched.
    ``typos``: look for mistyped words when no word matched as typed; ``breaks``: where
    sentences end in ``text`` (a group counts only with all its parts in one sentence)."""
    found = find_all(index, text)
    topics = index.topics
    neg = index.negation
    # A word taken back (転出ではなく) still claims its characters but counts nothing;
    # a group part taken back (番号は残しません) is not there. A term of weight 0 is a
    # shield (SHIELD here): the topic's own words inside it (すぐ解約 in 今すぐ解約, "right
    # now") do not count, and it claims nothing from other topics.
    hits: list[tuple[int, int, int, float]] = []  # start, end, topic index, weight
    for needle, starts in found.items():
        for ti, weight in index.term_of.get(needle, ()):
            for s in starts:
                taken_back = neg is not None and neg.match(text, s + len(needle)) is not None
                w = SHIELD if not weight else 0.0 if taken_back else weight
                hits.append((s, s + len(needle), ti, w))
    if any(not h[3] for h in hits):
        hits = _object_taken_back(hits)
    # Longest first; of two topics sharing a word, the one listed first claims it.
    hits.sort(key=lambda h: (h[0] - h[1], h[2]))
    claimed: list[tuple[int, int, int]] = []
    scores: dict[int, float] = {}
    counted: list[tuple[int, int, int]] = []
    shields: list[tuple[int, int, int]] = []
    for start, end, ti, weight in hits:
        if weight == SHIELD:
            shields.append((ti, start, end))
            continue
        if any(t == ti and s <= start and end <= e for t, s, e in shields):
            continue  # neither counts nor claims
        if any(
            s <= start and end <= e and t != ti and not topics[t].generic for s, e, t in claimed
        ):
            continue
        claimed.append((start, end, ti))
        # The same characters count once per topic (解約方法 and 解約 both hit cancel).
        if any(t == ti and s <= start and end <= e for t, s, e in counted):
            continue
        counted.append((ti, start, end))
        if weight:
            scores[ti] = scores.get(ti, 0.0) + weight

    def claimed_by_other(start: int, part: str, owner: int) -> bool:
        # "sim" inside "esim" belongs to esim, not to a sim_return group; a word claimed
        # whole (取り消) is shared and still counts.
        end = start + len(part)
        return any(
            s <= start and end <= e and e - s > len(part) and t != owner and not topics[t].generic
            for s, e, t in claimed
        )

    # A group adds to a topic only when it says more than the topic's own words already
    # did (最低 + 期間 inside 最低利用期間 must not count twice).
    candidates = {g for p in found for g in index.groups_of.get(p, ())}
    for ti, gi in sorted(candidates):
        parts, weight = topics[ti].groups[gi]
        if not all(p in found for p in parts):
            continue  # most groups a message touches miss a part: no need to place them
        places = [
            [
                st
                for st in found.get(p, ())
                if not claimed_by_other(st, p, ti)
                and not (neg is not None and neg.match(text, st + len(p)))
            ]
            for p in parts
        ]
        if not all(places) or (breaks and not _one_sentence(places, breaks)):
            continue
        own = [(s, e) for t, s, e in counted if t == ti]
        beyond = any(
            not any(s <= start and start + len(p) <= e for s, e in own)
            for p, starts in zip(parts, places, strict=True)
            for start in starts
        )
        if beyond:
            scores[ti] = scores.get(ti, 0.0) + weight
    if not scores and typos and not counted:
        _add_typo_hits(index, text[:FUZZY_TEXT_MAX], scores)

    def vetoes(word: str) -> bool:
        # A veto inside a longer word found (番号はいらない inside 予約番号はいらない, which
        # is MNPワンストップ) is part of that word, not said on its own.
        n = len(word)
        return any(
            not any(s <= st and st + n <= e and e - s > n for s, e, _ in claimed)
            for st in found.get(word, ())
        )

    out: dict[str, float] = {}
    moved: dict[str, float] = {}
    for ti, sc in scores.items():
        topic = topics[ti]
        if not any(map(vetoes, topic.unless)):
            out[topic.id] = out.get(topic.id, 0.0) + sc
        elif topic.vetoed_to:
            moved[topic.vetoed_to] = moved.get(topic.vetoed_to, 0.0) + sc
    for tid, sc in moved.items():
        out[tid] = out.get(tid, 0.0) + sc
    return out


def _object_taken_back(
    hits: list[tuple[int, int, int, float]],
) -> list[tuple[int, int, int, float]]:
    """A verb taken back takes back what it governs: in 他社に|乗り換えない and ドコモに
    |乗り換えずに the carrier right before the verb (at most one particle between) is
    where the customer is *not* going, so it counts nothing for the verb's topic."""
    back = {(s, ti) for s, _, ti, w in hits if not w}
    return [
        (s, e, ti, 0.0 if (e, ti) in back or (e + 1, ti) in back else w) for s, e, ti, w in hits
    ]


def _one_sentence(places: list[list[int]], breaks: tuple[int, ...]) -> bool:
    """Some sentence holds an occurrence of every part."""
    sentences = [{bisect_right(breaks, p) for p in starts} for starts in places]
    return bool(set.intersection(*sentences))


def typo_distance(pattern: str, text: str, limit: int) -> int:
    """Smallest edit distance (with adjacent transpositions) between ``pattern`` and any
    substring of ``text``; returns ``limit + 1`` as soon as it cannot be within ``limit``."""
    m = len(pattern)
    prev2: list[int] | None = None
    prev = list(range(m + 1))  # column for the empty text prefix
    best = prev[m]
    for j in range(1, len(text) + 1):
        cur = [0] * (m + 1)  # a match may start anywhere: row 0 is free
        tj = text[j - 1]
        for i in range(1, m + 1):
            cost = 0 if pattern[i - 1] == tj else 1
            v = min(prev[i] + 1, cur[i - 1] + 1, prev[i - 1] + cost)
            if (
                prev2 is not None
                and i > 1
                and j > 1
                and pattern[i - 1] == text[j - 2]
                and pattern[i - 2] == tj
            ):
                v = min(v, prev2[i - 2] + 1)
            cur[i] = v
        best = min(best, cur[m])
        prev2, prev = prev, cur
    return best if best <= limit else limit + 1


def one_slip(term: str, text: str) -> bool:
    """``term`` occurs in ``text`` with one character replaced or two neighbours swapped.
    Short words get only these slips: a dropped or added character turns "esim" into
    the "sim" of every 格安SIM."""
    n = len(term)
    for i in range(len(text) - n + 1):
        window = text[i : i + n]
        diffs = [k for k in range(n) if window[k] != term[k]]
        # A slip stays in the term's script: the 話 of 通話sim is no typo of the e of esim.
        if any(window[k].isascii() != term[k].isascii() for k in diffs):
            continue
        if len(diffs) <= 1:
            return True
        if (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and window[diffs[0]] == term[diffs[1]]
            and window[diffs[1]] == term[diffs[0]]
        ):
            return True
    return False


def _add_typo_hits(index: Index, text: str, scores: dict[int, float]) -> None:
    """Only when no word matched: kana/latin words found with a slip, at reduced weight."""
    if len(text) < 3:
        return
    best: dict[int, float] = {}
    for run in _KANA_RUN.findall(text):
        for n in index.slip_lengths:
            for i in range(len(run) - n + 1):
                window = run[i : i + n]
                keys = [window[:k] + BLANK + window[k + 1 :] for k in range(n)]
                for key in (window, *keys):
                    for fi in index.slips.get(key, ()):
                        f = index.fuzzy[fi]
                        if best.get(f.topic, 0.0) < f.weight and one_slip(f.text, window):
                            best[f.topic] = f.weight
        shared: dict[int, list[int]] = {}  # word -> where in the run it shares a pair
        for i in range(len(run) - 1):
            for fi in index.fuzzy_by_pair.get(run[i : i + 2], ()):
                shared.setdefault(fi, []).append(i)
        for fi, where in shared.items():
            f = index.fuzzy[fi]
            if len(where) < f.need or best.get(f.topic, 0.0) >= f.weight:
                continue
            parts = _spans(f, where, run)
            if any(typo_distance(f.text, part, f.limit) <= f.limit for part in parts):
                best[f.topic] = f.weight
    for ti, weight in best.items():
        scores[ti] = scores.get(ti, 0.0) + weight * index.fuzzy_weight


def _spans(f: Fuzzy, where: list[int], run: str) -> list[str]:
    """The stretches of ``run`` where ``f`` can lie: a match at most ``limit`` edits off
    is at most len + limit long and shares at least ``need`` pairs inside it."""
    reach = len(f.text) + f.limit
    spans: list[tuple[int, int]] = []
    j = 0
    for i, p in enumerate(where):
        while where[j] < p - reach + 2:
            j += 1
        if i - j + 1 >= f.need:
            lo, hi = max(0, where[j] - reach), min(len(run), p + reach + 1)
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], hi)
            else:
                spans.append((lo, hi))
    return [run[lo:hi] for lo, hi in spans]
