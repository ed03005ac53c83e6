"""Topic routing of first messages: the rule NLU against a morphological analyzer and a
small trained ranker, on the same blind sets. A script that prints figures, not a test
(CI does not run it); options whose packages are missing are skipped with a note.

    python bench/nlu_analyzers.py                 # every option that is installed
    python bench/nlu_analyzers.py --only rule sudachi
    python bench/nlu_analyzers.py --misses rule   # also list each option's misses
    python bench/nlu_analyzers.py --misses rule+sudachi --probe   # + analyzer signals
    python bench/nlu_analyzers.py --cold          # dictionaries evicted from the cache
    python bench/nlu_analyzers.py --sets nlu_blind.yaml nlu_holdout3.yaml

The optional packages are NOT project dependencies; install them into your own venv only:

    .venv/bin/pip install sudachipy sudachidict-core   # option rule+sudachi (mode C)
    .venv/bin/pip install fugashi unidic-lite          # option rule+fugashi
    .venv/bin/pip install scikit-learn                 # options ranker-lr, ranker-svc
    .venv/bin/pip install psutil                       # optional; /proc is read otherwise

Options
  rule           core.nlu.understand at the start menu, as the bot runs today.
  rule+sudachi   the same, on a message the analyzer has rewritten: a topic word that is
  rule+fugashi   negated (解約しないで済む, MNPはしない), contrasted away (転出じゃなくて) or
                 kept (オプションは残して) is dropped, and in a message of several sentences
                 the sentence that asks (たい, ください, 教えて, ？, か) is routed first.
  rule+regex     the same three signals with regular expressions only (no analyzer), to
                 tell what the analyzer adds over the signal itself.
  ranker-lr      character 1-3-gram TF-IDF + LogisticRegression, trained on the phrase
  ranker-svc     tables that are NOT evaluated here (nlu_phrases, nlu_holdout, nlu_holdout2)
                 and the lexicon's own words; LinearSVC is sigmoid-calibrated. Below a
                 probability threshold the bot would ask; the threshold is chosen by
                 cross-validation on the training data only (never on a blind set).

Each option runs in a fresh process, so "load s" is import + build (dictionary opened,
pickled model read) paid once per process, the median of --load-runs fresh processes; with
--cold the option's package files are evicted from the OS file cache before each (as after
a reboot), else the cache is warm. "RSS MB" is what the process grew by (VmRSS after the
run minus before the imports), "anon" the part that is not file-backed: a dictionary that
is mmapped shows in RSS but is shared between worker processes and evictable. Per-message times are
over every text of the evaluated sets plus the training texts (several hundred, varied).

Scoring per first message: "ok" when the bot shows a card of an accepted topic (or, for a
message that names no topic, no card); "ask" when it asks or shows the menu instead;
"wrong" when it shows a card of a topic that is not accepted: the confident wrong answer.
A set's cases with a `node:` (answers to a later question) are not first messages and are
left out. Evaluation sets: nlu_first_messages.yaml (nodes accepted per message, mapped to
topics as the flow does: the topic whose entry node reaches that node) when present, and
the older blind sets.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"

DEFAULT_SETS = ("nlu_first_messages.yaml", "nlu_blind.yaml", "nlu_holdout3.yaml")
# Never evaluated here, so a ranker may learn from them.
TRAIN_SETS = ("nlu_phrases.yaml", "nlu_holdout.yaml", "nlu_holdout2.yaml")
OTHER = "_other"  # the ranker's class for "no topic" (thanks, greeting, off-topic, ...)
NO_TOPIC_NODES = frozenset({"menu", "menu_more", "unknown", "off_topic", "none", ""})

OPTIONS: dict[str, tuple[str, ...]] = {  # option -> modules it needs
    "rule": (),
    "rule+regex": (),
    "rule+sudachi": ("sudachipy", "sudachidict_core"),
    "rule+fugashi": ("fugashi", "unidic_lite"),
    "ranker-lr": ("sklearn",),
    "ranker-svc": ("sklearn",),
    "rule+ranker": ("sklearn",),
}


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---- evaluation cases ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    text: str
    cards: frozenset[str]  # topics whose card is right
    asks: tuple[frozenset[str], ...] = ()  # a question offering one of these sets is right
    none_ok: bool = False  # no card (menu, thanks, ...) is right: the message names no topic
    classes: tuple[str, ...] = ()


def node_topics() -> dict[str, frozenset[str]]:
    """Each node -> the topics whose entry node reaches it without passing the menu or
    another topic's entry (fees_giga belongs to fees), as the flow routes them."""
    from core.dialogue import load_flow

    flow = load_flow()
    entries = {t.node: t.id for t in flow.topics.values()}
    owner: dict[str, set[str]] = {}
    for entry, tid in entries.items():
        todo, seen = [entry], {entry}
        while todo:
            node = flow.nodes[todo.pop()]
            owner.setdefault(node.id, set()).add(tid)
            nexts = [c.next for c in node.choices] + [t for _, t in node.cases]
            nexts += [node.next] if node.next else []
            for n in nexts:
                if n in seen or n in entries or n in NO_TOPIC_NODES or n not in flow.nodes:
                    continue
                seen.add(n)
                todo.append(n)
    return {n: frozenset(t) for n, t in owner.items()}


def _case(c: dict[str, Any], owners: dict[str, frozenset[str]]) -> Case:
    text = str(c["text"])
    cls = c.get("class", ())
    classes = (cls,) if isinstance(cls, str) else tuple(cls)
    if "accept" in c:  # nlu_first_messages.yaml: node ids, "ask:a+b", menu
        cards: set[str] = set()
        asks = []
        none_ok = False
        for a in (str(x) for x in c["accept"]):
            if a.startswith("ask:"):
                asks.append(frozenset(a.removeprefix("ask:").split("+")))
            elif a in NO_TOPIC_NODES:
                none_ok = True
            else:
                cards |= owners.get(a, frozenset())
        return Case(text, frozenset(cards), tuple(asks), none_ok, classes)
    if c["kind"] == "topic":
        return Case(text, frozenset({str(c["value"])}))
    if c["kind"] == "ambiguous":
        return Case(text, frozenset(), (frozenset(c.get("candidates", ())),))
    # unknown, thanks, start, command, a date at the menu: anything but a topic card
    return Case(text, frozenset(), none_ok=True)


def load_set(name: str) -> tuple[date, list[Case]]:
    """A set's first messages (cases with a `node:` answer a later question: left out)."""
    import yaml

    raw: dict[str, Any] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    today = raw.get("today") or datetime.fromisoformat(str(raw["now"])).date()
    owners = node_topics()
    return today, [_case(c, owners) for c in raw["cases"] if not c.get("node")]


def training_data() -> tuple[list[str], list[str]]:
    """Texts and labels from the tables never evaluated here, plus every lexicon word."""
    import yaml

    from core.nlu.lexicon import load_lexicon

    texts: list[str] = []
    labels: list[str] = []
    for name in TRAIN_SETS:
        raw = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
        for c in raw["cases"]:
            if c.get("node") or c["kind"] == "ambiguous":
                continue
            texts.append(str(c["text"]))
            labels.append(str(c["value"]) if c["kind"] == "topic" else OTHER)
    lex = load_lexicon()
    for topic in lex.topics:
        for term in topic.terms:
            texts.append(term.text)
            labels.append(topic.id)
        for group in topic.groups:
            texts.append("".join(group.parts))
            labels.append(topic.id)
    texts += [*lex.thanks, *lex.greetings, *lex.commands]
    labels += [OTHER] * (len(lex.thanks) + len(lex.greetings) + len(lex.commands))
    return texts, labels


# ---- predictions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pred:
    kind: str  # "topic" (a card), "ask" (buttons of candidates), "none" (menu / no card)
    topic: str = ""
    candidates: tuple[str, ...] = ()


def outcome(case: Case, pred: Pred) -> str:
    if pred.kind == "topic":
        return "ok" if pred.topic in case.cards else "wrong"
    if pred.kind == "ask" and any(a <= set(pred.candidates) for a in case.asks):
        return "ok"
    return "ok" if pred.kind == "none" and case.none_ok else "ask"


Router = Callable[[str, date], Pred]


def rule_router() -> Router:
    from core.dialogue import default_dialogue
    from core.intent import IntentKind
    from core.nlu import understand
    from core.nlu.lexicon import load_lexicon

    load_lexicon()
    dialogue = default_dialogue()
    menu = dialogue.expectation(None)
    topics = frozenset(dialogue.flow.topics)

    def route(text: str, today: date) -> Pred:
        got = understand(text, menu, today)
        # At the menu a topic's own button routes to that topic's card.
        if got.kind is IntentKind.TOPIC or (got.kind is IntentKind.CHOICE and got.value in topics):
            return Pred("topic", got.value)
        if got.kind is IntentKind.AMBIGUOUS:
            return Pred("ask", candidates=got.candidates)
        return Pred("none")

    return route


# ---- analyzer: tokens, then the rule NLU on the rewritten message -------------------------


@dataclass(frozen=True)
class Tok:
    surface: str
    lemma: str  # dictionary form (SudachiPy normalized_form / UniDic lemma)
    pos: str  # 名詞, 動詞, 助動詞, 助詞, 補助記号, ...
    pos2: str


Tokenizer = Callable[[str], list[Tok]]


def sudachi_tokenizer() -> Tokenizer:
    from sudachipy import Dictionary, SplitMode

    tok = Dictionary(dict="core").create(mode=SplitMode.C)

    def run(text: str) -> list[Tok]:
        return [
            Tok(m.surface(), m.normalized_form(), m.part_of_speech()[0], m.part_of_speech()[1])
            for m in tok.tokenize(text)
        ]

    return run


def fugashi_tokenizer() -> Tokenizer:
    import fugashi

    tagger = fugashi.Tagger()  # finds unidic-lite by itself

    def run(text: str) -> list[Tok]:
        out = []
        for w in tagger(text):
            f = w.feature
            out.append(Tok(w.surface, f.lemma or w.surface, f.pos1 or "", f.pos2 or ""))
        return out

    return run


SENTENCE_END = frozenset("。．.！!？?\n")
CLAUSE_END = frozenset("、，,")
# No ぬ: in hiragana text it is mostly a mis-split letter (えむえぬぴー -> 得る + ぬ); ん only
# after ませ (やるん is やるの).
NEGATOR_SURFACES = frozenset({"ない", "ず", "ずに", "なかっ", "ないで"})
# Verbs that name a topic themselves; other negated verbs (使えない, 入れない, 変えずに)
# carry the question and stay.
TOPIC_VERBS = frozenset({"乗り換える", "乗換える", "移る", "移す", "辞める", "止める", "やめる"})
DO = frozenset({"する", "為る", "やる"})
KEEP = frozenset({"残す"})
ASK_LEMMAS = frozenset({"たい", "下さい", "くださる", "教える", "どう", "いつ", "何", "知る"})


def sentences(toks: list[Tok]) -> list[list[Tok]]:
    out: list[list[Tok]] = [[]]
    for t in toks:
        out[-1].append(t)
        if t.surface in SENTENCE_END or (t.pos == "補助記号" and t.surface in SENTENCE_END):
            out.append([])
    return [s for s in out if any(t.pos != "補助記号" for t in s)]


def asks(sentence: list[Tok]) -> bool:
    return any(
        t.lemma in ASK_LEMMAS
        or t.surface in {"?", "？"}
        or (t.pos == "助詞" and t.pos2 == "終助詞" and t.surface == "か")
        for t in sentence
    )


def _noun_chain_start(toks: list[Tok], end: int) -> int:
    """Start of the noun phrase ending just before ``end`` (with one は/を/も/が/の between),
    stopping at a clause boundary: the words a negated する or 残す is about."""
    i = end
    if i > 0 and toks[i - 1].pos == "助詞" and toks[i - 1].surface in {"は", "を", "も", "が"}:
        i -= 1
    j = i
    while j > 0 and toks[j - 1].pos in {"名詞", "接頭辞", "接尾辞"}:
        j -= 1
    return j if j < i else end


def _negation_end(toks: list[Tok], k: int) -> int:
    """End of a negation starting at token ``k`` (ない, ず, ません), or 0. しないと (must),
    しなければ / しなきゃ (if not) are conditions, not refusals."""
    if k < len(toks) and toks[k].surface == "ませ" and k + 1 < len(toks):
        return k + 2 if toks[k + 1].surface == "ん" else 0
    if k >= len(toks) or toks[k].surface not in NEGATOR_SURFACES:
        return 0
    after = toks[k + 1] if k + 1 < len(toks) else None
    if after is not None and after.surface in {"と", "ば", "なら", "れ"}:
        return 0
    return k + 1


def dropped_spans(toks: list[Tok]) -> list[tuple[int, int]]:
    """Token spans whose topic the message turns away from."""
    spans = []
    clause = 0
    for i, t in enumerate(toks):
        if t.surface in SENTENCE_END or t.surface in CLAUSE_END:
            clause = i + 1
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        # X じゃなくて / ではなく / でなく Y: X is what the customer does NOT mean.
        if t.surface in {"じゃ", "じゃあ", "では", "で"} and i > clause:
            k = i + 1
            if k < len(toks) and t.surface == "で" and toks[k].surface == "は":
                k += 1  # で|は|なく as some dictionaries split it
            if k < len(toks) and toks[k].lemma in {"無い", "ない"} and toks[k].surface[0] == "な":
                spans.append((clause, k + 1))
                clause = k + 1
                continue
        # X(を/は)しない / せず / しません: the customer will not do X.
        if t.lemma in DO and nxt is not None and (neg := _negation_end(toks, i + 1)):
            start = _noun_chain_start(toks, i)
            if start < i:
                spans.append((start, neg))
        # X(は)残して: X is kept, not cancelled.
        elif t.lemma in KEEP:
            start = _noun_chain_start(toks, i)
            # 番号を残す is keeping the number (MNP), a fact, not a topic turned away.
            if start < i and not any("番号" in x.surface for x in toks[start:i]):
                spans.append((start, i + 1))
        # 乗り換えない / 移らない: a topic verb refused.
        elif t.lemma in TOPIC_VERBS and (neg := _negation_end(toks, i + 1)):
            spans.append((i, neg))
    return spans


@dataclass
class Rewrite:
    text: str  # what to route first
    without: str  # the whole message less the dropped spans
    negated: bool = False
    asking_only: bool = False
    notes: list[str] = field(default_factory=list)


def rewrite(toks: list[Tok]) -> Rewrite:
    spans = dropped_spans(toks)
    keep = [t for i, t in enumerate(toks) if not any(s <= i < e for s, e in spans)]
    rest = "".join(t.surface for t in keep)
    out = Rewrite(rest, rest, negated=bool(spans))
    out.notes = ["".join(t.surface for t in toks[s:e]) for s, e in spans]
    sents = sentences(keep)
    asking = [s for s in sents if asks(s)]
    if len(sents) >= 2 and asking and len(asking) < len(sents):
        out.asking_only = True
        out.text = "".join(t.surface for s in asking for t in s)
    return out


DURATION_UNITS = frozenset({"日", "日間", "週", "週間", "か月", "ヶ月", "カ月", "ヵ月", "ケ月"})
# Words after "N日" that make it a length of time, not the Nth of the month.
DURATION_CUES = frozenset(
    {"経つ", "たつ", "立つ", "前", "目", "間", "くらい", "ぐらい", "ほど", "しか"}
)


def durations(toks: list[Tok]) -> list[str]:
    """'N日 経った / 前 / 目 / 間 / くらい / しか', 'まだN日', 'N週間', 'Nか月': lengths of time."""
    found = []
    for i, t in enumerate(toks):
        if not t.surface.isdigit() and t.pos2 != "数詞":
            continue
        # The unit may come as one token (週間) or two (か|月).
        unit, j = "", i + 1
        for n in (2, 1):
            word = "".join(x.surface for x in toks[i + 1 : i + 1 + n])
            if word in DURATION_UNITS:
                unit, j = word, i + 1 + n
                break
        if not unit:
            continue
        after = toks[j : j + 3]
        rough = {"くらい", "ぐらい", "ごろ", "頃"}
        if len(after) >= 2 and after[0].surface in rough and after[1].surface in {"に", "の"}:
            continue  # 10日くらいに届いた: the day remembered, roughly
        cue = next((a.lemma for a in after if a.lemma in DURATION_CUES), "")
        cue = cue or next((a.surface for a in after if a.surface in DURATION_CUES), "")
        if not cue and i > 0 and toks[i - 1].surface == "まだ":
            cue = "まだ"
        if cue or unit != "日":  # 2週間, 3か月 are lengths whatever follows
            found.append(f"{t.surface}{unit}+{cue or '-'}")
    return found


def signal(text: str, tokenize: Tokenizer, today: date) -> str:
    """What the analyzer sees that substring tables do not, for one message ('' if nothing):
    dropped (negated / contrasted / kept) words, the asking sentence, durations, and how the
    rule date parser reads the same message (a duration read as a day of the month)."""
    from core.nlu import parse_date

    toks = tokenize(unicodedata.normalize("NFKC", text))
    rw = rewrite(toks)
    lengths = durations(toks)
    if not (rw.notes or rw.asking_only or lengths):
        return ""
    parts = [repr(text)]
    if rw.notes:
        parts.append(f"drop {rw.notes}")
    if rw.asking_only:
        parts.append(f"asks {rw.text!r}")
    if lengths:
        parsed = parse_date(text, today)
        read = parsed.date.isoformat() if parsed.date else "-"
        parts.append(f"durations {lengths}, parse_date {parsed.matched!r} -> {read}")
    return "  ".join(parts)


def rewritten_router(base: Router, rewriter: Callable[[str], Rewrite]) -> Router:
    def route(text: str, today: date) -> Pred:
        rw = rewriter(unicodedata.normalize("NFKC", text))
        if rw.asking_only:
            # The asking sentence leads; the rest decides only when it names no topic.
            first = base(rw.text, today)
            if first.kind == "topic":
                return first
        return base(rw.without, today) if rw.negated else base(text, today)

    return route


def analyzer_router(make: Callable[[], Tokenizer]) -> tuple[Router, Tokenizer, Any]:
    base = rule_router()
    rss0, t0 = rss_mb(), time.perf_counter()
    tokenize = make()  # import + open the dictionary: what the analyzer adds at start-up
    info = {"own_load_s": time.perf_counter() - t0, "own_rss_mb": rss_mb() - rss0}
    return rewritten_router(base, lambda text: rewrite(tokenize(text))), tokenize, info


# ---- the same three signals with regular expressions, no analyzer -------------------------

# A noun run by script (kanji, katakana, latin, digits): what a refusal or contrast is about.
_NOUN = r"[\u4e00-\u9fff\u30a0-\u30ffA-Za-z0-9ー]+(?:だけ)?"
_CONTRAST = re.compile(rf"({_NOUN})(?:じゃ|では|で)なく(?:て)?")
_REFUSAL = re.compile(rf"({_NOUN})[はをも]?(?:しない|しません|せず)(?!と|ければ|きゃ|くちゃ)")
_KEPT = re.compile(rf"({_NOUN})[はを]?残して")
_SENTENCE = re.compile(r"[^。．！!？?\n]+[。．！!？?\n]*")
_ASKS = re.compile(r"たい|ください|下さい|教え|[?？]|か[。．]?$|どう|いつ|何")


def regex_rewrite(text: str) -> Rewrite:
    notes: list[str] = []

    def drop(m: re.Match[str]) -> str:
        if "番号" in m.group(1):  # 番号を残して = keep the number: a fact, not a refusal
            return m.group(0)
        notes.append(m.group(0))
        return ""

    rest = text
    for pattern in (_CONTRAST, _REFUSAL, _KEPT):
        rest = pattern.sub(drop, rest)
    out = Rewrite(rest, rest, negated=bool(notes), notes=notes)
    sents = [x for x in _SENTENCE.findall(rest) if x.strip("。．！!？?\n ")]
    asking = [x for x in sents if _ASKS.search(x)]
    if len(sents) >= 2 and asking and len(asking) < len(sents):
        out.asking_only = True
        out.text = "".join(asking)
    return out


# ---- ranker -------------------------------------------------------------------------------


TARGET_WRONG = 0.02  # the threshold keeps cross-validated confident-wrong answers ≤ 2 %
VETO_MODEL = "lr"  # the ranker rule+ranker asks for a second opinion


def train_ranker(kind: str, path: Path) -> None:
    """Offline step (its own process, not counted as load): pick the threshold by 5-fold
    cross-validation on the training data only, fit on all of it, pickle model+threshold."""
    import pickle

    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from core.nlu import normalize

    texts, labels = training_data()
    texts = [normalize(t) for t in texts]

    def model() -> Any:
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        if kind == "lr":
            clf: Any = LogisticRegression(C=20.0, max_iter=3000)
        else:
            clf = CalibratedClassifierCV(LinearSVC(C=1.0), cv=3, method="sigmoid")
        return make_pipeline(vec, clf)

    t0 = time.perf_counter()
    counts = Counter(labels)
    idx = [i for i, y in enumerate(labels) if counts[y] >= 5]  # stratified folds need 5
    x_cv = [texts[i] for i in idx]
    y_cv = [labels[i] for i in idx]
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    proba = cross_val_predict(model(), x_cv, y_cv, cv=folds, method="predict_proba")
    classes = sorted(set(y_cv))
    best = np.max(proba, axis=1)
    top = [classes[k] for k in np.argmax(proba, axis=1)]
    threshold = 0.0
    for th in np.arange(0.10, 0.95, 0.01):
        wrong = sum(
            1 for b, p, y in zip(best, top, y_cv, strict=True) if b >= th and p != y and p != OTHER
        )
        if wrong / len(y_cv) <= TARGET_WRONG:
            threshold = float(th)
            break
    cv_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pipe = model().fit(texts, labels)
    fit_s = time.perf_counter() - t1
    info = {"threshold": round(threshold, 2), "train_n": len(texts), "cv_s": cv_s, "fit_s": fit_s}
    path.write_bytes(pickle.dumps({"pipe": pipe, "threshold": threshold, "info": info}))


def ranker_router(path: Path) -> tuple[Router, Callable[[str], list[tuple[str, float]]], Any]:
    """The pickled model as the runtime would load it: import + unpickle."""
    import pickle

    import numpy as np

    from core.nlu import normalize

    saved = pickle.loads(path.read_bytes())
    pipe, threshold = saved["pipe"], saved["threshold"]
    classes = list(pipe.classes_)

    def ranked(text: str) -> list[tuple[str, float]]:
        p = pipe.predict_proba([normalize(text)])[0]
        return [(classes[k], float(p[k])) for k in np.argsort(-p)]

    def route(text: str, today: date) -> Pred:
        r = ranked(text)
        if r[0][1] >= threshold:
            return Pred("none") if r[0][0] == OTHER else Pred("topic", r[0][0])
        return Pred("ask", candidates=tuple(c for c, _ in r[:3] if c != OTHER))

    return route, ranked, saved["info"]


def vetoed_router(path: Path) -> tuple[Router, Any]:
    """The rule NLU decides; the ranker only turns a card it strongly disagrees with (its
    confident top is another topic and the rule's topic is not in its top 2) into a
    question offering both: a second opinion against confident wrong answers."""
    base = rule_router()
    _, ranked, info = ranker_router(path)

    def route(text: str, today: date) -> Pred:
        got = base(text, today)
        if got.kind != "topic":
            return got
        r = [(c, p) for c, p in ranked(text)]
        top, p_top = r[0]
        if (
            top not in (OTHER, got.topic)
            and p_top >= info["threshold"]
            and got.topic not in {c for c, _ in r[:2]}
        ):
            return Pred("ask", candidates=(got.topic, top))
        return got

    return route, info


# ---- one option in a fresh process --------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


def rss_anon_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_child(
    option: str, sets: list[str], show_misses: bool, model: Path | None, load_only: bool = False
) -> Any:
    rss0, anon0 = rss_mb(), rss_anon_mb()
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    tokenize: Tokenizer | None = None
    if option == "rule":
        route = rule_router()
    elif option == "rule+regex":
        route = rewritten_router(rule_router(), regex_rewrite)
    elif option == "rule+sudachi":
        route, tokenize, info = analyzer_router(sudachi_tokenizer)
    elif option == "rule+fugashi":
        route, tokenize, info = analyzer_router(fugashi_tokenizer)
    elif option == "rule+ranker":
        assert model is not None
        route, info = vetoed_router(model)
    else:
        assert model is not None
        route, _, info = ranker_router(model)
    load_s = time.perf_counter() - t0
    rss_load = rss_mb() - rss0
    t1 = time.perf_counter()
    route("解約したい", date(2026, 11, 25))  # the first message pays any lazy set-up
    first_ms = (time.perf_counter() - t1) * 1000
    if load_only:
        return {"load_s": load_s, "first_ms": first_ms, "rss_load_mb": rss_load, "info": info}

    per_set: dict[str, Any] = {}
    all_texts: list[tuple[str, date]] = []
    signals: list[str] = []
    for name in sets:
        today, cases = load_set(name)
        if tokenize is not None and show_misses:
            signals += [
                f"[{name}] {line}" for c in cases if (line := signal(c.text, tokenize, today))
            ]
        tally: Counter[str] = Counter()
        misses = []
        for case in cases:
            pred = route(case.text, today)
            res = outcome(case, pred)
            tally[res] += 1
            if res != "ok":
                want = sorted(case.cards) + ["ask:" + "+".join(sorted(a)) for a in case.asks]
                misses.append(
                    {
                        "text": case.text,
                        "want": want + (["none"] if case.none_ok else []),
                        "got": pred.topic or list(pred.candidates) or pred.kind,
                        "res": res,
                        "classes": list(case.classes),
                    }
                )
            all_texts.append((case.text, today))
        per_set[name] = {
            "n": len(cases),
            "ok": tally["ok"],
            "ask": tally["ask"],
            "wrong": tally["wrong"],
            "misses": misses if show_misses else [],
        }
    texts, _ = training_data()
    all_texts += [(t, date(2026, 11, 25)) for t in texts if len(t) > 3]

    times = []
    for text, today in all_texts:
        t = time.perf_counter()
        route(text, today)
        times.append((time.perf_counter() - t) * 1000)
    tok_times = []
    if tokenize is not None:
        for text, _ in all_texts:
            t = time.perf_counter()
            tokenize(text)
            tok_times.append((time.perf_counter() - t) * 1000)
    return {
        "option": option,
        "load_s": load_s,
        "first_ms": first_ms,
        "rss_load_mb": rss_load,
        "rss_mb": rss_mb() - rss0,
        "anon_mb": rss_anon_mb() - anon0,
        "n_timed": len(times),
        "median_ms": statistics.median(times),
        "p99_ms": pct(times, 0.99),
        "tok_median_ms": statistics.median(tok_times) if tok_times else None,
        "tok_p99_ms": pct(tok_times, 0.99) if tok_times else None,
        "sets": per_set,
        "info": info,
        "signals": signals,
    }


def evict(option: str) -> None:
    """Drop the option's package files (dictionaries, libraries) from the OS file cache, so
    the next load reads them from disk as after a reboot. Only those files; harmless."""
    for module in OPTIONS[option]:
        spec = find_spec(module)
        for where in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(where).rglob("*"):
                if path.is_file() and path.stat().st_size > 100_000:
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)


def missing(option: str) -> list[str]:
    return [m for m in OPTIONS[option] if find_spec(m) is None]


def model_for(option: str) -> str | None:
    return {"ranker-lr": "lr", "ranker-svc": "svc", "rule+ranker": VETO_MODEL}.get(option)


def print_table(results: list[dict[str, Any]], sets: list[str]) -> None:
    head = f"{'option':<13} {'load s':>6} {'1st ms':>6} {'RSS MB':>6} {'anon':>5}"
    head += f" {'med ms':>6} {'p99 ms':>6}"
    for s in sets:
        short = s.removeprefix("nlu_").removesuffix(".yaml")[:14]
        head += f" | {short + ' ok/ask/WRONG':>25}"
    print(head)
    print("-" * len(head))
    for r in results:
        line = (
            f"{r['option']:<13} {r['load_s']:6.2f} {r['first_ms']:6.1f} {r['rss_mb']:6.0f}"
            f" {r['anon_mb']:5.0f} {r['median_ms']:6.3f} {r['p99_ms']:6.2f}"
        )
        for s in sets:
            d = r["sets"][s]
            n = d["n"]
            line += f" | {d['ok'] / n:5.1%} {d['ask'] / n:5.1%} {d['wrong'] / n:5.1%} n={n:<3}"
        print(line)
    print()
    for r in results:
        extra = ""
        if r["tok_median_ms"] is not None:
            extra = f"; tokenize alone median {r['tok_median_ms']:.3f} ms p99 {r['tok_p99_ms']:.3f}"
        i = r["info"]
        if "own_load_s" in i:
            extra += (
                f"; the analyzer alone: import+dictionary {i['own_load_s']:.3f} s (median),"
                f" +{i['own_rss_mb']:.0f} MB RSS at load"
            )
        if "threshold" in i:
            extra += (
                f"; threshold {i['threshold']} (offline: CV {i['cv_s']:.1f} s,"
                f" fit {i['fit_s']:.2f} s on {i['train_n']} texts)"
            )
        lo, hi = r["load_range"]
        print(
            f"{r['option']}: load {lo:.2f}-{hi:.2f} s; RSS after load {r['rss_load_mb']:.0f} MB;"
            f" {r['n_timed']} texts timed{extra}"
        )


def print_misses(results: list[dict[str, Any]], sets: list[str]) -> None:
    for r in results:
        for s in sets:
            misses = r["sets"][s]["misses"]
            if not misses:
                continue
            print(f"\n{r['option']} on {s}: {len(misses)} misses (by the message's class)")
            by_class: dict[str, list[dict[str, Any]]] = {}
            for m in misses:
                by_class.setdefault("/".join(m["classes"]) or "-", []).append(m)
            for cls, ms in sorted(by_class.items(), key=lambda kv: -len(kv[1])):
                for m in ms:
                    print(
                        f"  {cls:<18} {m['res']:<5} {m['text']!r} want {m['want']} got {m['got']}"
                    )


def print_signals(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r.get("signals"):
            print(f"\n{r['option']}: analyzer signals on the evaluated messages")
            for line in r["signals"]:
                print("  " + line)


# Negation and contrast as issue 7 describes them, written for this bench (not from any
# evaluated set): how each rewriter reads them. Printed with --probe.
PROBES = (
    "解約しないで済む方法ある？",
    "転出じゃなくて解約だけしたい",
    "MNPはしない",
    "オプションは残して回線だけ解約",
    "番号は変わっていいのでドコモへ",
    "乗り換えはしないけど解約したい",
    "MNPしないで解約",
    "MNP転出じゃない普通の解約",
    "eSIMを解約するんじゃなくて、SIMカードを返したい",
    "オプション解約じゃなくて回線ごと",
    "転出せずに解約だけ",
    "違約金は気にしてないので解約の手順を",
    "解約しないといけないんですが手順は？",
    "MNPで出るつもりはなくて、ふつうに解約",
    "他社へ乗り換えないで解約だけする場合",
    "SIMは返さなくていいの？",
)


def print_probes() -> None:
    today = date(2026, 11, 25)
    base = rule_router()
    routers: dict[str, Router] = {
        "rule": base,
        "regex": rewritten_router(base, regex_rewrite),
    }
    for name, make in (("sudachi", sudachi_tokenizer), ("fugashi", fugashi_tokenizer)):
        if not missing(f"rule+{name}"):
            tokenize = make()
            routers[name] = rewritten_router(base, lambda t, tk=tokenize: rewrite(tk(t)))

    def show(p: Pred) -> str:
        if p.kind == "topic":
            return p.topic
        return "ask:" + "+".join(p.candidates) if p.kind == "ask" else "no card"

    print("\nprobe".ljust(34) + "".join(f"{n:<22}" for n in routers))
    for text in PROBES:
        print(f"{text:<32}" + "".join(f"{show(r(text, today)):<22}" for r in routers.values()))


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=list(OPTIONS), default=list(OPTIONS))
    ap.add_argument("--sets", nargs="*", default=list(DEFAULT_SETS))
    ap.add_argument("--misses", nargs="*", default=[], help="options whose misses to list")
    ap.add_argument("--load-runs", type=int, default=5, help="fresh processes timing the load")
    ap.add_argument(
        "--cold", action="store_true", help="evict the packages' files from the cache first"
    )
    ap.add_argument("--probe", action="store_true", help="also show the negation probes")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--train", help=argparse.SUPPRESS)
    ap.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.train:
        train_ranker(args.train, args.model)
        return
    sets = [s for s in args.sets if (DATA / s).exists()]
    if args.child:
        shown = args.child in args.misses
        result = run_child(args.child, sets, shown, args.model, args.load_only)
        json.dump(result, sys.stdout)
        return
    for s in args.sets:
        if s not in sets:
            print(f"note: tests/data/{s} not found, skipped")

    env = dict(os.environ, PYTHONHASHSEED="0")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for option in args.only:
            lack = missing(option)
            if lack:
                print(f"note: {option} skipped, not installed: {', '.join(lack)} (see docstring)")
                continue
            cmd = [sys.executable, __file__, "--child", option, "--sets", *sets]
            cmd += ["--misses", *args.misses] if args.misses else []
            kind = model_for(option)
            if kind is not None:
                path = Path(tmp) / f"{kind}.pickle"
                if not path.exists():
                    train = [sys.executable, __file__, "--train", kind, "--model", str(path)]
                    subprocess.run(train, env=env, check=True)
                cmd += ["--model", str(path)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                print(f"note: {option} failed:\n{done.stderr[-2000:]}")
                continue
            result = json.loads(done.stdout)
            # Start-up cost on a shared machine varies run to run: the median of fresh runs.
            loads = [] if args.cold else [result]
            for _ in range(args.load_runs - len(loads)):
                if args.cold:
                    evict(option)
                out = subprocess.run(
                    [*cmd, "--load-only"], capture_output=True, text=True, env=env, check=True
                )
                loads.append(json.loads(out.stdout))
            for k in ("load_s", "first_ms"):
                result[k] = statistics.median(x[k] for x in loads)
            if "own_load_s" in result["info"]:
                own = [x["info"]["own_load_s"] for x in loads]
                result["info"]["own_load_s"] = statistics.median(own)
            result["load_range"] = (
                min(x["load_s"] for x in loads),
                max(x["load_s"] for x in loads),
            )
            results.append(result)
    print_table(results, sets)
    print_misses(results, sets)
    print_signals(results)
    if args.probe:
        print_probes()


if __name__ == "__main__":
    main()
