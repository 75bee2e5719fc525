"""Voting across a track's reads: settled on agreement or when attempts are spent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.plates.voting import PlateVote


def test_two_agreeing_reads_settle_the_vote() -> None:
    vote = PlateVote(agree=2, attempts=4)
    assert vote.add("ABC123DE", 0.9) is None
    assert vote.add("ABC123OE", 0.5) is None
    verdict = vote.add("ABC123DE", 0.8)
    assert verdict is not None
    assert (verdict.text, verdict.agreeing, verdict.attempts) == ("ABC123DE", 2, 3)
    assert vote.settled
    with pytest.raises(RuntimeError):
        vote.add("ABC123DE", 0.9)


def test_when_attempts_run_out_characters_are_voted_across_reads() -> None:
    vote = PlateVote(agree=3, attempts=3)
    vote.add("ABC123DX", 0.9)
    vote.add("ABC12JDE", 0.9)
    verdict = vote.add("XBC123DE", 0.9)
    assert verdict is not None and verdict.text == "ABC123DE"
    assert verdict.agreeing == 0 and verdict.confidence < 0.9


def test_failed_attempts_count_and_all_failed_gives_no_read() -> None:
    vote = PlateVote(agree=2, attempts=2)
    assert vote.add("", 0.0) is None
    assert vote.add("", 0.0) is None
    assert vote.settled and vote.verdict() is None


def test_a_vote_needing_more_agreement_than_attempts_is_refused() -> None:
    with pytest.raises(ValueError):
        PlateVote(agree=5, attempts=4)


@given(st.lists(st.tuples(st.sampled_from(["ABC123DE", "ABC123OE", ""]),
                          st.floats(0.0, 1.0)), min_size=1, max_size=10),
       st.integers(1, 4))
def test_the_vote_settles_within_its_attempts_and_never_invents_a_length(
        reads: list[tuple[str, float]], agree: int) -> None:
    vote = PlateVote(agree=agree, attempts=4)
    verdict = None
    used = 0
    for text, conf in reads:
        used += 1
        verdict = vote.add(text, conf)
        if vote.settled:
            break
    assert used <= 4
    if verdict is not None:
        assert len(verdict.text) == 8 and 0.0 <= verdict.confidence <= 1.0
        assert verdict.agreeing <= verdict.attempts == used
