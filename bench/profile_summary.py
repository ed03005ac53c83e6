"""Summarise a py-spy raw (collapsed) profile of the server: where the samples went.

    .venv/bin/python bench/http_bench.py --procs 1 --conns 64 --targets serve --profile p.txt
    .venv/bin/python bench/profile_summary.py p.txt

Prints the share of samples (idle loop excluded) whose stack passes through each of a few
named areas, then the top functions by own time.
"""

from __future__ import annotations

import sys
from collections import Counter

# area -> substrings of a frame ("function (file:line)") that put a sample in it
AREAS: dict[str, tuple[str, ...]] = {
    "LINE SDK models (build, to_dict, validation)": ("linebot/v3/messaging/models", "pydantic"),
    "LINE SDK api client (serialise, deserialise)": ("linebot/v3/messaging/api", "api_client"),
    "render (adapters/line/render.py)": ("adapters/line/render.py",),
    "outbound HTTP (aiohttp client)": ("aiohttp/client", "aiohttp/connector"),
    "trust_env proxy/.netrc lookup": ("get_env_proxies", "netrc", "proxy_bypass", "getproxies"),
    "understand (core/nlu)": ("core/nlu/",),
    "dialogue step (core/dialogue)": ("core/dialogue/",),
    "redis client": ("redis/",),
    "HTTP parser h11": ("h11",),
    "HTTP parser httptools": ("httptools",),
    "starlette": ("starlette/",),
    "logging": ("logging/", "logging_setup"),
    "json": ("json/",),
    "signature check": ("signature", "hmac"),
}
IDLE = ("select (selectors.py", "_run_once (asyncio/base_events.py", "run_forever")


def main(path: str) -> None:
    stacks: Counter[str] = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if stack and n.isdigit():
                stacks[stack] += int(n)
    # Start-up (imports, loading the flow and lexicon) is not what a turn costs.
    busy = {
        s: n
        for s, n in stacks.items()
        if not s.split(";")[-1].startswith(IDLE) and "_find_and_load" not in s
    }
    total = sum(busy.values()) or 1
    print(f"{sum(stacks.values())} samples, {total} busy (not waiting in the event loop)")
    for area, needles in AREAS.items():
        n = sum(c for s, c in busy.items() if any(x in s for x in needles))
        print(f"  {100 * n / total:5.1f} %  {area}")
    own: Counter[str] = Counter()
    for s, c in busy.items():
        own[s.split(";")[-1]] += c
    files: Counter[str] = Counter()
    for s, c in busy.items():
        frame = s.split(";")[-1]
        where = frame.rpartition("(")[2].split(":")[0]
        files[where.split("/site-packages/")[-1]] += c
    print("own time by file:")
    for where, c in files.most_common(15):
        print(f"  {100 * c / total:5.1f} %  {where}")
    print("top own time:")
    for frame, c in own.most_common(12):
        print(f"  {100 * c / total:5.1f} %  {frame[:110]}")


if __name__ == "__main__":
    main(sys.argv[1])
