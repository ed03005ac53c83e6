"""How long `understand` takes on varied customer texts. A script that prints figures, not a
test.

    python bench/bench_understand.py [--rounds 20] [--profile]

Texts: every case of the NLU tables (tests/data/nlu_*.yaml), each at the node it is written
for, the blind first messages at the menu, plus chatter that matches nothing (the slow path
of a lexicon matcher: every fallback is tried). Times are per call, in ms, and as a ratio
to a floor measured in the same run on the same texts (`normalize()` alone), so a slower or
busier machine shifts both alike.

Load (lexicon, readings, index) is measured separately: it is paid once per process when
`core.nlu` is imported at start-up, never on the first customer's message.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T0 = time.perf_counter()
import core.nlu  # noqa: E402  (timed: import cost is part of start-up)

IMPORT_S = time.perf_counter() - T0

import yaml  # noqa: E402

from core.dialogue import default_dialogue  # noqa: E402
from core.intent import Expectation  # noqa: E402
from core.nlu import normalize, understand  # noqa: E402
from core.session import Session  # noqa: E402
from tests.nlu_tables import DATA, load_cases  # noqa: E402

TODAY = date(2026, 11, 24)

# Texts no lexicon word matches: weather, chit-chat, long pastes, latin, digits.
UNMATCHED = (
    "今日の天気は？",
    "明日は雨かなあ",
    "おなかすいた",
    "昨日の夜ラーメン食べに行ったら美味しかったです、また行きたいなと思っています",
    "asdfghjkl",
    "the quick brown fox jumps over the lazy dog",
    "ｗｗｗｗｗｗｗ",
    "🙏🙏🙏",
    "1234567890",
    "あいうえおかきくけこさしすせそたちつてとなにぬねの",
    "ちょっとよくわからないんですけどどうしたらいいかなーって思ってまーす",
    "テスト",
    "ねえねえ聞いてよ今日さあ会社でさあ",
    "週末どこか行く？",
    "猫がかわいい",
    "すごーーーーーい",
    "今度の日曜日に引っ越しをするのですが、その前に色々と片付けておきたいことがあります。"
    "まず部屋の掃除、それから荷造り、最後に役所への届け出です。",
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor",
    "はい",
    "ｗ",
)


def texts() -> list[tuple[str, Expectation]]:
    dialogue = default_dialogue()
    out: list[tuple[str, Expectation]] = []
    for path in sorted(DATA.glob("nlu_*.yaml")):
        try:
            _, cases = load_cases(path.name)
        except (KeyError, TypeError):
            continue  # a table of another shape (first messages with engine expectations)
        for c in cases:
            session = (
                None if c.node is None else Session(node=c.node, flow_version=dialogue.flow_version)
            )
            out.append((c.text, dialogue.expectation(session)))
    menu = dialogue.expectation(None)
    first = DATA / "nlu_first_messages.yaml"
    if first.exists():  # first messages: a table of another shape, all at the menu
        raw = yaml.safe_load(first.read_text(encoding="utf-8"))
        out += [(str(c["text"]), menu) for c in raw["cases"]]
    out += [(t, menu) for t in UNMATCHED]
    return out


def timed(
    fn: Callable[[str, Expectation], object], items: list[tuple[str, Expectation]], rounds: int
) -> list[float]:
    """Per-text median over ``rounds`` (the noise of a shared machine mostly goes away)."""
    per_text: list[list[float]] = [[] for _ in items]
    for _ in range(rounds):
        for i, (text, expect) in enumerate(items):
            t = time.perf_counter()
            fn(text, expect)
            per_text[i].append(time.perf_counter() - t)
    return [statistics.median(s) * 1000 for s in per_text]


def pct(ms: list[float], q: float) -> float:
    s = sorted(ms)
    return s[min(len(s) - 1, int(len(s) * q))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--profile", action="store_true", help="cProfile the understand loop")
    args = ap.parse_args()

    t = time.perf_counter()
    warm = getattr(core.nlu, "warm_up", None)  # absent before issue 7: then the lexicon
    if warm is not None:  # loads on the first message, timed here instead
        warm()
    else:
        understand("解約", Expectation(node="menu"), TODAY)
    warm_s = time.perf_counter() - t
    items = texts()

    def run_understand(text: str, expect: Expectation) -> object:
        return understand(text, expect, TODAY)

    def run_normalize(text: str, expect: Expectation) -> object:
        return normalize(text)

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.rounds):
            for text, expect in items:
                understand(text, expect, TODAY)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        return

    timed(run_understand, items, 2)  # warm caches and the interpreter
    floor = timed(run_normalize, items, args.rounds)
    cost = timed(run_understand, items, args.rounds)
    unmatched = cost[-len(UNMATCHED) :]
    f_med = statistics.median(floor)
    print(f"texts={len(items)} rounds={args.rounds}")
    print(
        f"start-up: import core.nlu {IMPORT_S * 1000:.0f} ms"
        f" + loading left for later {warm_s * 1000:.0f} ms"
    )
    print(f"floor normalize(): median={f_med:.4f} ms")
    for name, ms in (("understand (all)", cost), ("understand (unmatched)", unmatched)):
        med, p95, p99 = statistics.median(ms), pct(ms, 0.95), pct(ms, 0.99)
        print(
            f"{name:<24} median={med:.4f} ms  p95={p95:.4f} ms  p99={p99:.4f} ms"
            f"  max={max(ms):.4f} ms"
            f"  (median {med / f_med:.1f}x floor, p99 {p99 / f_med:.1f}x floor)"
        )
    slow = sorted(zip(cost, items, strict=True), key=lambda ci: -ci[0])[:5]
    print("slowest:", *(f"{c:.3f} ms {t!r}" for c, (t, _) in slow), sep="\n  ")


if __name__ == "__main__":
    main()
