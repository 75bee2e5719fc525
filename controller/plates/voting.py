"""Voting across a track's frames: one plate read per vehicle once the reads agree.

Pure: each attempt adds a read (text, confidence); the vote is settled when `agree`
reads share a text, or when `attempts` are spent (then the text with the highest summed
confidence wins, and its confidence is scaled by the share of reads that agree). Reads
of the same length are also voted character by character (`by_character`, which the
reader's own vote across scales of one photo uses too), so one bad character in one frame
does not split the vote.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

#: reads of one length it takes for a character-by-character vote (two that differ
#: would only tie, or follow the surer one, as the whole-text vote does already)
BY_CHARACTER_MIN = 3


def by_character(reads: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
    """The reads of the most common length voted position by position, each read
    weighing its confidence; with the least share of a position's weight its character
    won by (1.0: they all agree). None when fewer than `BY_CHARACTER_MIN` are of that
    length (empty texts are no reads).

    Three reads of CCV020 as CCY020, CCV120 and CLV020 each have one character wrong, a
    different one: no two agree as texts, but each position's majority is right."""
    good = [(t, c) for t, c in reads if t]
    if not good:
        return None
    length = Counter(len(t) for t, _ in good).most_common(1)[0][0]
    same = [(t, c) for t, c in good if len(t) == length]
    if len(same) < BY_CHARACTER_MIN:
        return None
    chars = []
    share = 1.0
    for i in range(length):
        votes: dict[str, float] = defaultdict(float)
        for text, conf in same:
            votes[text[i]] += conf
        chars.append(max(votes, key=lambda ch: votes[ch]))
        total = sum(votes.values())
        share = min(share, votes[chars[-1]] / total if total > 0 else 0.0)
    return "".join(chars), share


@dataclass(frozen=True)
class Verdict:
    """The vote's outcome: the text, its confidence, and how many reads agreed."""

    text: str
    confidence: float
    agreeing: int
    attempts: int


@dataclass
class PlateVote:
    """The reads of one track so far; `settled` once the vote is decided."""

    agree: int = 2
    attempts: int = 4
    reads: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.agree <= self.attempts:
            raise ValueError(f"agree {self.agree} must be between 1 and attempts "
                             f"{self.attempts}")

    def add(self, text: str, confidence: float) -> Verdict | None:
        """Count one attempt (an empty text is a failed attempt); the verdict once settled."""
        if self.settled:
            raise RuntimeError("the vote of this track is already settled")
        self.reads.append((text, confidence))
        texts = Counter(t for t, _ in self.reads if t)
        if texts and texts.most_common(1)[0][1] >= self.agree:
            return self.verdict()
        if len(self.reads) >= self.attempts:
            return self.verdict()
        return None

    @property
    def settled(self) -> bool:
        texts = Counter(t for t, _ in self.reads if t)
        return len(self.reads) >= self.attempts or (
            bool(texts) and texts.most_common(1)[0][1] >= self.agree)

    def verdict(self) -> Verdict | None:
        """The best text so far (None when every attempt failed)."""
        good = [(t, c) for t, c in self.reads if t]
        if not good:
            return None
        weight: dict[str, float] = defaultdict(float)
        for text, conf in good:
            weight[text] += conf
        voted = by_character(good)
        # three or more reads of one length outvote character by character
        text = voted[0] if voted is not None else max(weight, key=lambda t: weight[t])
        agreeing = sum(1 for t, _ in good if t == text)
        confs = [c for t, c in good if t == text] or \
            [max(c for t, c in good if len(t) == len(text))]
        share = max(agreeing, 1) / len(self.reads)
        return Verdict(text, max(confs) * share, agreeing, len(self.reads))
