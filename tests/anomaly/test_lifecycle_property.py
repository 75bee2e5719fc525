"""Random readings and operator actions: the life cycle never breaks its own rules."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.anomaly.alarm import AlarmActionError, AlarmState
from controller.anomaly.engine import AnomalyEngine
from controller.config import AnomalyConfig, ChannelRulesConfig

CH = "n/c"
RULES = ChannelRulesConfig(high_warning=10.0, high_critical=20.0, deadband=1.0,
                           max_step=15.0, missing_s=30.0, debounce_samples=2,
                           onset_warmup_readings=3)
ACTIONS = st.one_of(
    st.tuples(st.just("read"), st.floats(-5, 30)),
    st.tuples(st.just("tick"), st.floats(0, 60)),
    st.tuples(st.just("ack"), st.sampled_from(["limits", "rate", "missing", "adaptive"])),
    st.tuples(st.just("shelve"), st.sampled_from(["limits", "missing"])),
    st.tuples(st.just("unshelve"), st.sampled_from(["limits", "missing"])),
    st.tuples(st.just("suppress"), st.just(0.0)),
    st.tuples(st.just("unsuppress"), st.just(0.0)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ACTIONS, max_size=80))
def test_transitions_chain_and_states_stay_valid(actions: list[tuple[str, object]]) -> None:
    e = AnomalyEngine(AnomalyConfig(channels={CH: RULES}))
    state: dict[str, AlarmState] = {}
    t = 0.0
    for kind, arg in actions:
        t += 5.0
        trs = []
        with contextlib.suppress(AlarmActionError):
            if kind == "read":
                assert isinstance(arg, float)
                trs = e.observe(CH, t, arg)
                assert 0.0 <= e.score(CH) <= 1.0
            elif kind == "tick":
                assert isinstance(arg, float)
                t += arg
                trs = e.tick(t)
            elif kind == "ack":
                trs = e.acknowledge(f"{CH}:{arg}", "u", t)
            elif kind == "shelve":
                trs = e.shelve(f"{CH}:{arg}", "u", t, t + 40.0, "r")
            elif kind == "unshelve":
                trs = e.unshelve(f"{CH}:{arg}", "u", t)
            elif kind == "suppress":
                trs = e.suppress(CH, "maintenance", t)
            else:
                trs = e.unsuppress(CH, t)
        for tr in trs:
            assert tr.from_state == state.get(tr.alarm_id, AlarmState.NORMAL)
            assert tr.from_state != tr.to_state or tr.event == "escalate"
            assert tr.t == t
            state[tr.alarm_id] = tr.to_state
    for view in e.alarms(include_normal=True):
        assert view.state == state.get(view.alarm_id, AlarmState.NORMAL)
        if view.state is AlarmState.ACTIVE_ACK:
            assert view.condition and view.acked_by == "u"
        if view.state in (AlarmState.RETURNED_UNACK, AlarmState.NORMAL):
            assert not view.condition
