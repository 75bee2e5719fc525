"""`edgewarden anomaly`: replay and explain anomaly rules on recorded data."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from controller.anomaly.replay import DEFAULT_CHANNEL, ReplayResult, format_t, replay_file
from controller.config import ChannelRulesConfig, load_config
from controller.errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "anomaly",
        help="replay and explain anomaly rules on recorded data",
        description="Replay and explain anomaly rules on recorded data.",
    )
    actions = p.add_subparsers(dest="anomaly_command", metavar="ACTION")
    actions.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("file", type=Path, metavar="FILE.csv",
                       help="CSV with a header timestamp,value (ISO or epoch seconds)")
        q.add_argument("--config", type=Path, metavar="F",
                       help="config file whose [anomaly.channels] rules to use")
        q.add_argument("--channel", metavar="NAME",
                       help='channel whose rules to use (default: "*" or built-in defaults)')

    r = actions.add_parser(
        "replay", help="score a recorded CSV and write timestamp,value,score,alarm",
        description="Replay a timestamp,value CSV through a channel's rules and write "
        "timestamp,value,score,alarm (score 0..1, alarm 0/1).",
    )
    common(r)
    r.add_argument("--out", type=Path, required=True, metavar="OUT.csv", help="output CSV")
    r.add_argument("--explain", action="store_true", help="also list each alarm")
    r.set_defaults(handler=run)

    e = actions.add_parser(
        "explain", help="list the alarms a recorded CSV raises, and why",
        description="Replay a timestamp,value CSV and list each alarm: rule, start, clear, "
        "peak value and why the raising reading scored as it did; --at shows the same for "
        "any reading.",
    )
    common(e)
    e.add_argument("--at", action="append", default=[], metavar="TIMESTAMP",
                   help="also explain the reading with this timestamp, as written in the "
                   "file (repeatable)")
    e.set_defaults(handler=run, out=None, explain=True)
    p.set_defaults(handler=run)


def channel_rules(config: Path | None, channel: str | None) -> ChannelRulesConfig:
    """The rules to replay: the channel's, else "*", else the built-in defaults."""
    if config is None:
        if channel is not None:
            raise UsageError(f"--channel {channel}: needs --config with that channel's rules")
        return ChannelRulesConfig()
    channels = load_config(config).anomaly.channels
    key = "*"
    if channel is not None:
        key = channel if channel in channels else "*"
        if key not in channels:
            raise UsageError(f"{config}: no [anomaly.channels.\"{channel}\"] (nor \"*\")")
    return channels.get(key) or ChannelRulesConfig()


def run(args: argparse.Namespace) -> int:
    rules = channel_rules(args.config, args.channel)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]replay[/] {task.description}"), BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=console, transient=True,
    ) as progress:
        task = progress.add_task(args.file.name, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        at = [a.strip() for a in getattr(args, "at", [])]
        result = replay_file(args.file, args.out, rules, args.channel or DEFAULT_CHANNEL,
                             advance, explain_at=set(at))
    missing = [a for a in at if a not in result.explained]
    if missing:
        raise UsageError(f"{args.file}: no reading with timestamp {missing[0]!r}")
    out = Console()
    if args.out is not None:
        out.print(f"{result.rows} readings, {len(result.episodes)} alarms -> {args.out}")
    if args.explain:
        print_explain(out, result)
    for stamp in at:
        score, alarm, why = result.explained[stamp]
        out.print(f"{stamp}: score {score:.4f}, {'in alarm' if alarm else 'no alarm'}",
                  highlight=False)
        for line in why or ["no rule has more to say"]:
            out.print(f"  {line}", highlight=False, soft_wrap=True)
    return 0


def print_explain(console: Console, result: ReplayResult) -> None:
    """One line per alarm: rule, severity, start, clear, trigger and peak value."""
    if not result.episodes:
        console.print(f"no alarms in {result.rows} readings")
        return
    console.print(f"{len(result.episodes)} alarms in {result.rows} readings")
    console.print(f"{'rule':<9} {'severity':<8} {'start':<19}    {'clear':<19} trigger    peak",
                  highlight=False)
    for ep in result.episodes:
        start = ep.start_stamp or format_t(ep.start_t)
        clear = ep.clear_stamp or (
            "still active" if ep.clear_t is None else format_t(ep.clear_t)
        )
        console.print(
            f"{ep.rule:<9} {ep.severity:<8} {start:<19} -> {clear:<19} "
            f"{_num(ep.trigger_value):<10} {_num(ep.peak_value)}",
            highlight=False, soft_wrap=True,
        )
        if ep.why:
            console.print(f"  why: {ep.why}", highlight=False, soft_wrap=True)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"
