"""Summarise a py-spy ``--format raw`` profile (collapsed stacks) into where the time goes.

``bench/run.py --profile`` records one worker with py-spy and calls this; on its own::

    python bench/pyspy_summary.py bench/results/profile-granian-list.txt [TOP]

Figures are shares of the samples kept. bench/run.py records with ``--gil``: only the
thread holding the GIL is sampled, so the shares say how a worker's one Python core is
spent (time blocked on PostgreSQL, the socket or a lock, without the GIL, is left out).

- by thread: the event loop thread against the threads running sync handlers;
- inclusive by package / module: share of samples with at least one frame in it (a
  sample counts once per package, so the shares add up to more than 100%);
- self: the function (or package) at the top of the stack, the one actually running.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_THREAD = re.compile(r"^thread \((?P<id>\d+)\)(?:: (?P<name>.*))?$")


def _split(line: str) -> tuple[list[str], int] | None:
    stack, _, count = line.rstrip().rpartition(" ")
    if not stack or not count.isdigit():
        return None
    return stack.split(";"), int(count)


def _where(frame: str) -> tuple[str, str]:
    """(function, file) of one frame."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, ""
    return match["func"], match["file"]


def _package(file: str) -> str:
    if not file:
        return "(native/unknown)"
    head = file.split("/", 1)[0]
    return head.removesuffix(".py")


def _module(file: str) -> str:
    parts = file.removesuffix(".py").split("/")
    return "/".join(parts[:2]) if len(parts) > 1 else parts[0]


def _thread_kind(name: str) -> str:
    name = re.sub(r"\s*\(.*\)$", "", name)  # "Thread-1 (work)" -> "Thread-1"
    return re.sub(r"[_-]?\d+$", "", name) or name


# Named slices of a worker's time, matched on the frames of each sample (heuristics on
# today's function names; they overlap, so they do not add up to 100%).
GROUPS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (name, any of these frames must appear, and none of these)
    ("event-loop thread", ("thread:MainThread",), ()),
    ("  response building (to_response, ASGIResponse, encode_json)",
     ("to_response", "encode_json", "ASGIResponse."), ("_WorkItem.run",)),
    ("  send path (send_with_id, _wrap_send, granian send)", ("send_with_id", "_wrap_send"), ()),
    ("  thread hand-off (run_in_executor, futures, loop wake-up)",
     ("run_in_executor", "add_done_callback", "_chain_future", "call_soon_threadsafe",
      "_copy_future_state", "_write_to_self", "_read_from_self", "_process_self_data",
      "Future.set_result", "ThreadPoolExecutor.submit"), ()),
    ("  EdgeMiddleware's own work", ("EdgeMiddleware.__call__",),
     ("ExceptionHandlerMiddleware", "ASGIRouter", "send_with_id")),
    ("  parameters, signature, dependencies",
     ("parse_values_from_connection_kwargs", "KwargsModel", "resolve_dependencies",
      "extractor"), ()),
    ("handler thread (sync handler in the executor)", ("_WorkItem.run",), ()),
    ("  SQLAlchemy execute (incl. psycopg)", ("Connection.execute",), ()),
    ("catalog reads on the loop (CompiledRead, incl. psycopg)", ("CompiledRead.all",), ()),
    ("  psycopg", ("psycopg/",), ()),
    ("  unit of work, pool", ("SqlUnitOfWork", "pool/"), ("Connection.execute",)),
    ("  rows -> Product", ("SqlProductRepository._product", "<listcomp> (minicommerce"), ()),
    ("  ProductQuery (pydantic)", ("ProductQuery", "pydantic/"), ()),
)  # fmt: skip


def group_shares(text: str) -> list[list[Any]]:
    """Share of the samples in each of :data:`GROUPS`."""
    counts = [0] * len(GROUPS)
    total = 0
    for line in text.splitlines():
        parsed = _split(line)
        if parsed is None:
            continue
        frames, count = parsed
        total += count
        thread = _THREAD.match(frames[0]) if frames else None
        keys = [f"thread:{thread['name'] or ''}"] if thread else []
        joined = ";".join(keys + frames[1 if thread else 0 :])
        for i, (_, anyof, noneof) in enumerate(GROUPS):
            if any(a in joined for a in anyof) and not any(n in joined for n in noneof):
                counts[i] += count
    return [
        [name, round(n / total, 4) if total else 0.0]
        for (name, _, _), n in zip(GROUPS, counts, strict=True)
    ]


def summarise(text: str) -> dict[str, Any]:
    threads: Counter[str] = Counter()
    inclusive_pkg: Counter[str] = Counter()
    inclusive_mod: Counter[str] = Counter()
    self_func: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        parsed = _split(line)
        if parsed is None:
            continue
        frames, count = parsed
        total += count
        thread = "(unknown)"
        if frames and (m := _THREAD.match(frames[0])):
            thread = _thread_kind(m["name"]) if m["name"] else "(thread without Python frames)"
            frames = frames[1:]
        threads[thread] += count
        places = [_where(f) for f in frames]
        for pkg in {_package(file) for _, file in places}:
            inclusive_pkg[pkg] += count
        for mod in {_module(file) for _, file in places if file}:
            inclusive_mod[mod] += count
        if places:
            func, file = places[-1]
            self_func[f"{func} ({file})"] += count
            self_pkg[_package(file)] += count

    def shares(counter: Counter[str], limit: int | None = None) -> list[list[Any]]:
        return [[k, round(v / total, 4)] for k, v in counter.most_common(limit)] if total else []

    return {
        "samples": total,
        "groups": group_shares(text),
        "threads": shares(threads),
        "inclusive_packages": shares(inclusive_pkg, 25),
        "inclusive_modules": shares(inclusive_mod, 40),
        "self_packages": shares(self_pkg, 25),
        "self_functions": shares(self_func, 40),
    }


def render(summary: dict[str, Any], *, title: str = "profile", top: int = 15) -> str:
    out = [f"{title}: {summary['samples']} active samples"]
    for key, label in (
        ("groups", "by slice (overlapping)"),
        ("threads", "by thread"),
        ("inclusive_packages", "inclusive, by package"),
        ("inclusive_modules", "inclusive, by module"),
        ("self_packages", "self, by package"),
        ("self_functions", "self, by function"),
    ):
        out.append(f"  {label}:")
        rows = summary[key] if key == "groups" else summary[key][:top]
        out += [f"    {share:6.1%}  {name}" for name, share in rows]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write(f"usage: {argv[0]} PROFILE.txt [TOP]\n")
        return 2
    top = int(argv[2]) if len(argv) > 2 else 15
    print(render(summarise(Path(argv[1]).read_text()), title=argv[1], top=top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
