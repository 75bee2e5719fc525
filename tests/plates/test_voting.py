"""Voting across a track's reads: settled on agreement or when attempts are spent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.plates.voting import BY_CHARACTER_MIN, PlateVote, by_character


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


def test_three_reads_each_wrong_in_a_different_place_vote_the_plate_right() -> None:
    voted = by_character([("CCY020", 0.88), ("CCV120", 0.8), ("CLV020", 0.85)])
    assert voted is not None
    text, share = voted
    assert text == "CCV020"
    # each position's winner had two of the three reads: about two thirds of its weight
    assert share == pytest.approx(min(1.68 / 2.53, 1.73 / 2.53, 1.65 / 2.53))


def test_a_character_vote_needs_three_reads_of_one_length() -> None:
    assert by_character([("CCY020", 0.9), ("CCV120", 0.9)]) is None
    assert by_character([("CCY020", 0.9), ("CCV120", 0.9), ("", 0.0), ("", 0.0)]) is None
    # the odd length is left out of the vote, not padded into it
    voted = by_character([("CCY020", 0.9), ("CCV120", 0.9), ("CLV020", 0.9),
                          ("XCCV020", 1.0)])
    assert voted is not None and voted[0] == "CCV020"


@given(st.lists(st.tuples(st.text("AB01", min_size=1, max_size=4), st.floats(0.01, 1.0)),
                max_size=8))
def test_a_character_vote_takes_every_character_from_a_read_at_its_place(
        reads: list[tuple[str, float]]) -> None:
    voted = by_character(reads)
    lengths = [len(t) for t, _ in reads]
    if voted is None:
        assert max((lengths.count(n) for n in lengths), default=0) < BY_CHARACTER_MIN
        return
    text, share = voted
    same = [t for t, _ in reads if len(t) == len(text)]
    assert len(same) >= BY_CHARACTER_MIN and lengths.count(len(text)) == max(
        lengths.count(n) for n in lengths)
    assert all(any(t[i] == ch for t in same) for i, ch in enumerate(text))
    assert 0.0 < share <= 1.0
    if len(set(same)) == 1:
        assert text == same[0] and share == pytest.approx(1.0)
