"""The refusal limiter (sans-IO): a few refusals audited one by one, the rest summarised."""

from __future__ import annotations

from controller.control.refusals import RefusalLimiter


def test_first_refusals_pass_the_rest_are_summarised_per_caller() -> None:
    rl = RefusalLimiter(interval_s=10, per_interval=3)
    admitted = [rl.admit(1000, 1, 7, None, "refused config.get", 0.5) for _ in range(10)]
    assert admitted == [True] * 3 + [False] * 7
    assert rl.admit(1001, 1, 8, "view", "refused export", 1.0)  # another caller
    assert rl.due(5.0) == []
    (s,) = rl.due(10.5)
    assert (s.uid, s.total, s.counts) == (1000, 7, {"refused config.get": 7})
    assert s.text(10.5).startswith("7 further refusals in 10 s")
    assert rl.admit(1000, 1, 7, None, "refused config.get", 11.0)  # a new interval
    assert rl.due(30.0, force=True) == []  # nothing suppressed: no summary
