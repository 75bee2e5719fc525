"""Voting across a track's frames: one plate read per vehicle once the reads agree.

Pure: each attempt adds a read (text, confidence); the vote is settled when `agree`
reads share a text, or when `attempts` are spent (then the text with the highest summed
confidence wins, and its confidence is scaled by the share of reads that agree). Reads
of the same length are also voted character by character, so one bad character in one
frame does not split the vote.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


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
        lengths = Counter(len(t) for t, _ in good)
        length = lengths.most_common(1)[0][0]
        same = [(t, c) for t, c in good if len(t) == length]
        chars = []
        for i in range(length):
            votes: dict[str, float] = defaultdict(float)
            for text, conf in same:
                votes[text[i]] += conf
            chars.append(max(votes, key=lambda ch: votes[ch]))
        by_char = "".join(chars)
        best = max(weight, key=lambda t: weight[t])
        # three or more reads of one length outvote character by character
        text = by_char if len(same) >= 3 else best
        agreeing = sum(1 for t, _ in good if t == text)
        confs = [c for t, c in good if t == text] or [max(c for _, c in same)]
        share = max(agreeing, 1) / len(self.reads)
        return Verdict(text, max(confs) * share, agreeing, len(self.reads))
