"""Drop lines of new hand-written injection data that repeat, or nearly repeat, earlier lines.

Used in each injection round (see bench/README.md, "How the injection sets were written"): a new
final set is checked against every earlier file in bench/data, and training data written during
the round is checked against the round's final set, without anyone reading the final set.

A line is *near* an earlier one when at least ``--share`` (default 0.6) of its content words
(lower-cased word tokens of three or more characters) occur in that earlier line; lines with
fewer than three content words count as near only when their normalised text is equal.

    .venv/bin/python bench/near_lines.py NEW.jsonl [NEW2.jsonl ...] --against bench/data \\
        --out bench/data/injection-final-heldout-6.jsonl

Prints how many lines each input kept and dropped; writes the kept lines, in input order, to
``--out``. Lines are also checked against the lines kept before them, so the output holds no
two near lines either.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import orjson

WORD = re.compile(r"\w+")


def content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in WORD.findall(text.casefold()) if len(w) >= 3)


def normalised(text: str) -> str:
    return " ".join(WORD.findall(text.casefold()))


class Seen:
    """Earlier lines, indexed by content word for the share test."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.texts: set[str] = set()
        self.words: list[frozenset[str]] = []
        self.by_word: dict[str, list[int]] = defaultdict(list)

    def add(self, text: str) -> None:
        self.texts.add(normalised(text))
        words = content_words(text)
        index = len(self.words)
        self.words.append(words)
        for w in words:
            self.by_word[w].append(index)

    def near(self, text: str) -> bool:
        if normalised(text) in self.texts:
            return True
        words = content_words(text)
        if len(words) < 3:
            return False
        hits: dict[int, int] = defaultdict(int)
        for w in words:
            for index in self.by_word.get(w, ()):
                hits[index] += 1
        need = self.share * len(words)
        return any(count >= need for count in hits.values())


def read_lines(path: Path) -> list[dict[str, object]]:
    out = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                sys.exit(f"{path}:{number}: not JSON ({exc})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("new", nargs="+", type=Path)
    parser.add_argument(
        "--against",
        nargs="+",
        type=Path,
        required=True,
        help="earlier .jsonl files, or folders of them",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--share", type=float, default=0.6)
    args = parser.parse_args()
    seen = Seen(args.share)
    earlier = 0
    for target in args.against:
        files = sorted(target.glob("*.jsonl")) if target.is_dir() else [target]
        for path in files:
            if (
                path.resolve() in {p.resolve() for p in args.new}
                or path.resolve() == args.out.resolve()
            ):
                continue
            for row in read_lines(path):
                text = row.get("text")
                if isinstance(text, str):
                    seen.add(text)
                    earlier += 1
    kept: list[bytes] = []
    for path in args.new:
        dropped = 0
        rows = read_lines(path)
        for row in rows:
            text = row.get("text")
            if not isinstance(text, str) or seen.near(text):
                dropped += 1
                continue
            seen.add(text)
            kept.append(orjson.dumps(row))
        print(
            f"{path}: kept {len(rows) - dropped}, dropped {dropped}"
            f" (against {earlier} earlier lines)"
        )
    args.out.write_bytes(b"\n".join(kept) + b"\n")
    print(f"wrote {len(kept)} lines to {args.out}")


if __name__ == "__main__":
    main()
