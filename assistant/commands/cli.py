"""The `assistant` command line."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path

from assistant import __version__
from assistant.app import Settings, load_settings, open_assistant
from assistant.commands.compare import VARIANTS, CloudModel, cloud_params
from assistant.commands.logs import error_line, setup_logging
from assistant.config import PROJECT_ROOT
from assistant.core.errors import AssistantError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config file (default: ~/.config/assistant/config.toml, then built-in)",
    )
    common.add_argument("--pipeline", metavar="NAME", help="pipeline definition from pipelines/")
    common.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default: WARNING for interactive commands (-v for INFO)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log at INFO")

    p = argparse.ArgumentParser(prog="assistant", description="A local voice assistant.")
    p.add_argument("--version", action="version", version=f"assistant {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser(
        "check-config",
        parents=[common],
        help="validate the configuration and print it resolved (secrets redacted)",
    )

    ask = sub.add_parser("ask", parents=[common], help="text in, spoken reply out (skips ASR)")
    ask.add_argument("text", nargs="+")
    ask.add_argument(
        "--wav", type=Path, metavar="OUT", help="write the reply here instead of playing it"
    )

    bench = sub.add_parser(
        "bench",
        parents=[common],
        help="WAV files through the full pipeline in real time; latency table",
    )
    bench.add_argument(
        "wavs",
        nargs="*",
        type=Path,
        metavar="WAV",
        help="utterances (default: the samples shipped with the project)",
    )
    bench.add_argument("--json", type=Path, metavar="FILE", help="write one JSON record per turn")
    bench.add_argument(
        "--out-dir",
        type=Path,
        default=Path("bench-out"),
        help="where reply WAVs go (default: %(default)s)",
    )

    bench.add_argument(
        "--variant",
        choices=list(VARIANTS),
        help="run one of --compare's configurations (default: the pipeline as configured)",
    )
    bench.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="run the utterances under each configuration back to back (fast-only, "
        "large-only, routed; then the cloud what-if) and write DIR/<name>.jsonl for "
        "`assistant report`",
    )
    cloud = bench.add_argument_group("the cloud what-if of --compare (milliseconds)")
    for name, default, what in cloud_params():
        cloud.add_argument(
            f"--cloud-{name}", type=float, default=default, help=f"{what} (%(default)s)"
        )
    bench.add_argument(
        "--routing",
        type=Path,
        metavar="FILE",
        help="instead: score the router on labelled texts (see `assistant route --file`)",
    )

    ev = sub.add_parser(
        "eval",
        parents=[common],
        help="a labelled answer set, typed: right %% per kind and per route, with latency",
    )
    ev.add_argument(
        "answers",
        nargs="?",
        type=Path,
        default=PROJECT_ROOT / "tests" / "data" / "answers.tsv",
        metavar="FILE",
        help="kind<TAB>question<TAB>pattern lines (default: the project's own set)",
    )
    ev.add_argument(
        "--variant",
        choices=list(VARIANTS),
        help="score one of bench --compare's configurations (default: the pipeline)",
    )
    ev.add_argument("--json", type=Path, metavar="FILE", help="write one record per question")

    eot = sub.add_parser(
        "eot",
        parents=[common],
        help="end of turn: the pause corpus, and each rule's cut-offs against its wait",
    )
    eot.add_argument("action", choices=["make", "evidence", "sweep", "recover"])
    eot.add_argument("corpus", type=Path, metavar="DIR")
    eot.add_argument(
        "--held-out",
        action="store_true",
        help="make: the held-out sentences; sweep, recover: only them",
    )
    eot.add_argument("--tuning", action="store_true", help="sweep, recover: only the tuning set")
    eot.add_argument("--json", type=Path, metavar="FILE", help="sweep: write the table")

    route = sub.add_parser(
        "route",
        parents=[common],
        help="print each text's route and reason (nothing is spoken or executed)",
    )
    route.add_argument("texts", nargs="*", metavar="TEXT")
    route.add_argument(
        "--file",
        type=Path,
        help="one text per line; a line 'intent|easy|hard<TAB>text' is scored, and the "
        "confusion matrix printed",
    )

    sub.add_parser(
        "devices",
        parents=[common],
        help="the devices the assistant knows (config, Zigbee2MQTT, MQTT discovery), where "
        "each came from, what it can do with each, and what each last reported",
    )
    sub.add_parser(
        "mqtt-cleanup",
        parents=[common],
        help="remove the Home Assistant entities and retained topics from the broker",
    )
    report = sub.add_parser(
        "report",
        help="an HTML page (self-contained) from bench record files: waterfalls, "
        "distributions, the runs compared",
    )
    report.add_argument("records", nargs="+", type=Path, metavar="RECORDS.jsonl")
    report.add_argument(
        "-o", "--output", type=Path, default=Path("report.html"), help="(default: %(default)s)"
    )
    report.add_argument(
        "--figures", type=Path, metavar="DIR", help="also write each figure as DIR/<id>.svg"
    )
    sub.add_parser("ptt", parents=[common], help="push-to-talk from the terminal")
    sub.add_parser(
        "run",
        parents=[common],
        help="the daemon: listen on the default microphone, answer on the speaker",
    )
    service = sub.add_parser(
        "install-service",
        help="write the systemd unit for this installation and a commented config",
    )
    service.add_argument(
        "--user",
        action="store_true",
        help="a user unit (systemctl --user), for a desktop's PipeWire/PulseAudio; "
        "default: a system unit (root) for a headless box with ALSA",
    )
    service.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="write the system unit under DIR instead of / (for images and packages)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)  # (install-service and report take neither)
    setup_logging(getattr(args, "log_level", None) or ("INFO" if verbose else "WARNING"))
    try:
        # These two read no configuration (a broken one must not stop them).
        if args.command == "install-service":
            return _install_service(args)
        if args.command == "report":
            return _report(args)
        settings = load_settings(args.config, args.pipeline)
        if not (args.log_level or args.verbose) and args.command not in ("ptt", "bench"):
            # Each turn's JSON record is logged at INFO: the log is where it belongs.
            setup_logging(settings.config.log.level)
        if args.command == "check-config":
            print(json.dumps(settings.describe(), indent=2))
            return 0
        if args.command == "route" or (args.command == "bench" and args.routing):
            return _route(settings, args)
        if args.command == "eot":
            return _eot(settings, args)
        if args.command == "mqtt-cleanup":
            return asyncio.run(_mqtt_cleanup(settings))
        if args.command == "devices":
            from assistant.commands.devices import list_devices

            print(asyncio.run(list_devices(settings)))
            return 0
        return asyncio.run(_COMMANDS[args.command](settings, args))
    except AssistantError as e:
        error_line(f"assistant: {e.code}: {e}")
        return e.exit_status
    except KeyboardInterrupt:
        return 130


def _report(args: argparse.Namespace) -> int:
    from assistant.commands.report import render
    from assistant.core.records import read_records

    runs = [(path, *read_records(path)) for path in args.records]
    page = render(runs)
    args.output.write_text(page)
    print(f"wrote {args.output}")
    if args.figures is not None:
        from assistant.commands.report import figures

        args.figures.mkdir(parents=True, exist_ok=True)
        for id_, svg in figures(page).items():
            (args.figures / f"{id_}.svg").write_text(svg)
        print(f"figures in {args.figures}/")
    return 0


def _install_service(args: argparse.Namespace) -> int:
    from assistant.integrations.service import install, report

    inst = install(args.user, args.root)
    print(report(inst, args.user))
    return 0


async def _ask(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.audio.devices import sound_devices
    from assistant.audio.wav import WavSpeaker
    from assistant.commands.ptt import latency_line

    async with open_assistant(settings) as a:
        text = " ".join(args.text)
        if args.wav:
            record = await a.runner.run(text, WavSpeaker(args.wav, a.reply_rate_hz, a.clock))
        else:
            audio = settings.config.audio
            with sound_devices(audio, a.clock, a.reply_rate_hz, microphone=False) as devices:
                devices.start()
                record = await a.runner.run(text, devices.speaker)
        print(record.reply)
        print(latency_line(record), file=sys.stderr)
        return 0 if record.outcome == "ok" else 1


async def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.commands.bench import print_table, run_bench, sample_files, write_json

    files = list(args.wavs) or sample_files()
    for f in files:
        if not f.is_file():
            raise AssistantError(f"{f}: no such file")
    if args.compare is not None:
        return _compare(files, args)
    label = args.variant or "bench"
    if args.variant is not None:
        from assistant.commands.compare import apply_variant

        settings = apply_variant(settings, args.variant)
    live = sys.stderr.isatty()

    def progress(msg: str) -> None:
        print(
            f"\r\033[K{msg}" if live else msg, end="" if live else "\n", file=sys.stderr, flush=True
        )

    progress("loading and warming the models…")
    async with open_assistant(settings) as a:
        records = await run_bench(a, files, args.out_dir, progress)
    if live:
        print("\r\033[K", end="", file=sys.stderr)
    print_table(records)
    print(f"reply audio in {args.out_dir}/")
    if args.json:
        from assistant.commands.compare import run_header

        write_json(records, args.json, run_header(label, settings, records))
    return 0 if records and all(r.outcome == "ok" for r in records) else 1


def _compare(files: list[Path], args: argparse.Namespace) -> int:
    from assistant.commands.compare import compare, print_comparison
    from assistant.core.records import read_records

    model = CloudModel(
        **{f.name: getattr(args, f"cloud_{f.name}") for f in dataclasses.fields(CloudModel)}
    )
    common = []
    if args.config is not None:
        common += ["--config", str(args.config)]
    if args.pipeline is not None:
        common += ["--pipeline", args.pipeline]

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    written = compare(files, args.compare, common, model, progress)
    print_comparison([read_records(p) for p in written])
    print(f"records in {args.compare}/; the page: assistant report {args.compare}/*.jsonl")
    return 0


def _route(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.app import turn_settings
    from assistant.core.router import print_confusion, read_labelled, route

    ts = turn_settings(settings)
    has_large = ts.escalation is not None
    path = getattr(args, "routing", None) or args.file
    texts: list[tuple[str | None, str]] = [(None, t) for t in getattr(args, "texts", [])]
    if path is not None:
        texts += read_labelled(path)
    if not texts:
        raise AssistantError("route: give TEXT arguments or --file FILE")
    for _, text in texts:
        r = route(text, ts.devices, has_large=has_large)
        print(f"{r.path:<7} {r.reason:<14} {text}")
    labelled: list[tuple[str, str]] = [(lb, text) for lb, text in texts if lb is not None]
    if labelled:
        print()
        accuracy = print_confusion(labelled, ts.devices, has_large=has_large)
        return 0 if accuracy >= 0.9 else 1
    return 0


async def _mqtt_cleanup(settings: Settings) -> int:
    from assistant.integrations.mqtt import cleanup

    if settings.config.mqtt.url is None:
        raise AssistantError("mqtt-cleanup: no [mqtt] url in the config")
    for topic in await cleanup(settings.config.mqtt):
        print(f"cleared {topic}")
    return 0


async def _ptt(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.audio.devices import sound_devices
    from assistant.commands.ptt import PushToTalk

    async with open_assistant(settings) as a:
        with sound_devices(settings.config.audio, a.clock, a.reply_rate_hz) as devices:
            await PushToTalk(a, devices).run()
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.commands.run import run_daemon

    if settings.config.mqtt.url is not None:
        from assistant.integrations.mqtt import check_credentials

        check_credentials(settings.config.mqtt)  # before a minute of loading models
    await run_daemon(settings)
    return 0


async def _eval(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.commands.evaluate import evaluate, print_scores, read_answers

    items = read_answers(args.answers)
    label = args.variant or "routed"
    if args.variant is not None:
        from assistant.commands.compare import apply_variant

        settings = apply_variant(settings, args.variant)

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    progress(f"{len(items)} questions, {label}: loading and warming the models…")
    async with open_assistant(settings) as a:
        scored = await evaluate(a, items, progress)
    print_scores(scored)
    if args.json:
        from assistant.commands.compare import run_header
        from assistant.core.records import write_records

        header = run_header(label, settings, [s.record for s in scored])
        write_records(args.json, header, [s.to_dict() for s in scored])
    return 0


def _eot(settings: Settings, args: argparse.Namespace) -> int:
    from assistant.commands import eot, pause_corpus

    if args.action == "make":
        made = pause_corpus.make(args.corpus, settings.model_files(), held_out=args.held_out)
        print(f"{len(made)} renderings in {args.corpus}")
    elif args.action == "evidence":
        eot.gather(args.corpus, settings, args.corpus / "evidence.jsonl")
    elif args.action == "recover":
        from assistant.commands import eot_recovery

        only = True if args.held_out else False if args.tuning else None
        eot_recovery.print_recovery(eot_recovery.recover(args.corpus, settings, held_out=only))
    else:
        only = True if args.held_out else False if args.tuning else None
        table = eot.sweep(args.corpus, settings.pipeline.turn_end, held_out=only)
        eot.print_sweep(table)
        if args.json:
            args.json.write_text(json.dumps(table, indent=1))
    return 0


_COMMANDS = {"ask": _ask, "bench": _bench, "eval": _eval, "ptt": _ptt, "run": _run}
