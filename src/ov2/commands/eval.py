"""``ov2 eval``: the model-free evidence check and model runs on JumpScore, grounding, pointing, tracking, traces.

    ov2 eval evidence --data DIR --backends codec,frames,fixed --canvases 8,16,32,64,128 [--out DIR]
    ov2 eval jumpscore --model DIR --data FILE --backend codec --canvases 32 [--out FILE] [--limit K]
    ov2 eval grounding --model DIR --data FILE --backend codec --canvases 32 [--out FILE] [--limit K]
    ov2 eval pointing|tracking|traces --model DIR --data DIR [--backend codec|fixed|frames] [--canvases N]

jumpscore, pointing, tracking and traces also draw their first --figures N answers (default 4) into
<out stem>_figures/ with an index.html: frame strips with predicted/GT points and GT masks, trace
overlays, JumpScore timelines (predicted starts green within 0.1 s of a GT start, red otherwise).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidOptionError
from .arguments import add_candidates_argument, codec_config


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _name_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="evaluation: evidence check, JumpScore and grounding model runs",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="eval_command", metavar="WHAT")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    ev = sub.add_parser("evidence", help="share of annotated cycle starts with a token within tau (no model)")
    ev.add_argument("--data", required=True, help="directory holding jumpscore.jsonl, or the jsonl file")
    ev.add_argument("--backends", type=_name_list, default=["codec", "frames", "fixed"],
                    help="comma-separated backends (default codec,frames,fixed)")
    ev.add_argument("--canvases", type=_int_list, default=[8, 16, 32, 64, 128],
                    help="comma-separated canvas budgets (default 8,16,32,64,128)")
    ev.add_argument("--out", default="evidence_out", help="output directory (cache, evidence.json, evidence.png)")
    ev.add_argument("--max-pixels", type=int, default=150_000, help="tokenizer max_pixels per frame")
    ev.add_argument("--tau", type=float, default=0.1, help="time tolerance in seconds (default 0.1)")
    ev.add_argument("--limit", type=int, default=None, help="only the first K clips")
    ev.add_argument("--threads", type=int, default=None,
                    help="decoding threads per video for the tokenizer (default: one per core; 1 = one unthreaded pass)")
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ev.set_defaults(func=_evidence)

    from ..eval.run_figures import DEFAULT_FIGURES
    from ..eval.runner import TASKS

    for name in ("jumpscore", "grounding", "pointing", "tracking", "traces"):
        default_tokens = TASKS[name].max_new_tokens
        p = sub.add_parser(name, help=f"run a model on a {name} jsonl and score it")
        p.add_argument("--model", required=True, help="checkpoint directory (model + processor)")
        p.add_argument("--data", required=True, help=f"the {name}.jsonl file, or its directory")
        p.add_argument("--backend", choices=["codec", "frames", "fixed"], default="codec")
        p.add_argument("--canvases", type=int, default=32, help="canvas budget (default 32)")
        p.add_argument("--out", default=None, help="results jsonl (default eval_out/<task>_<backend>_<N>.jsonl)")
        p.add_argument("--limit", type=int, default=None, help="only the first K samples")
        p.add_argument("--max-new-tokens", type=int, default=default_tokens,
                       help=f"generation length limit (default {default_tokens})")
        p.add_argument("--max-pixels", type=int, default=150_000, help="tokenizer max_pixels per frame")
        add_candidates_argument(p, inherits="a checkpoint trained with this option brings its own")
        p.add_argument("--device", default=None, help="torch device (default: the model's choice)")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        if name != "grounding":
            p.add_argument("--figures", type=int, default=DEFAULT_FIGURES, metavar="N",
                           help=f"draw the first N answers next to the results, with an index.html "
                                f"(default {DEFAULT_FIGURES}, 0: none)")
        p.set_defaults(func=_model_run, task=name)


def _evidence(args: argparse.Namespace) -> int:
    from ..eval.evidence_run import format_table, plot, run_evidence
    from ..eval.io import load_records

    if args.limit is not None and args.limit < 0:
        raise InvalidOptionError(f"--limit must be >= 0, got {args.limit}")
    records = load_records(args.data, "jumpscore.jsonl")[: args.limit]
    if not records:
        raise InvalidOptionError(f"no records in {args.data}")
    out = Path(args.out)
    options = {"threads": args.threads} if args.threads is not None else None
    doc = run_evidence(records, args.backends, args.canvases, out, max_pixels=args.max_pixels, tau=args.tau,
                       tokenize_options=options, progress=not args.no_progress)
    table = format_table(doc)
    (out / "evidence.txt").write_text(table + "\n")
    png = plot(doc, out / "evidence.png", title=f"Evidence check: {Path(args.data).name}")
    print(table)
    for err in doc["errors"][:5]:
        print(f"  failed {err['id']} {err['backend']}@{err['canvases']}: {err['error']}")
    print(f"wrote {out / 'evidence.json'}, {png} ({doc['reused_jobs']} of "
          f"{len(records) * len(args.backends) * len(args.canvases)} jobs reused from cache)")
    return 1 if doc["errors"] and not doc["per_clip"] else 0


def _model_run(args: argparse.Namespace) -> int:
    from ..eval.io import load_records
    from ..eval.runner import TASKS, format_summary, run

    if getattr(args, "figures", 0) < 0:
        raise InvalidOptionError(f"--figures must be >= 0, got {args.figures}")
    task = TASKS[args.task]
    records = load_records(args.data, task.default_file)
    out = Path(args.out) if args.out else Path("eval_out") / f"{args.task}_{args.backend}_{args.canvases}.jsonl"
    result = run(args.task, args.model, records, out, backend=args.backend, canvases=args.canvases,
                 max_pixels=args.max_pixels, codec_config=codec_config(args),
                 max_new_tokens=args.max_new_tokens, limit=args.limit,
                 device=args.device, progress=not args.no_progress)
    print(format_summary(result.summary))
    print(f"{result.computed} computed, {result.reused} reused, {len(result.failed)} failed -> {out}")
    for f in result.failed:
        print(f"  failed {f['id']}: {f['error']}")
    if getattr(args, "figures", 0):
        _figures(args, records[: args.limit], result)
    return 1 if result.failed else 0


def _figures(args: argparse.Namespace, records: list[dict[str, Any]], result: Any) -> None:
    """Draw the first ``--figures`` answers of the run next to its results (kept when unchanged)."""
    from ..eval.io import read_results
    from ..eval.run_figures import figures_dir, write_figures

    from ..errors import VideoError

    folder = figures_dir(result.out)
    model = "/".join(Path(args.model).parts[-2:])
    title = f"ov2 eval {args.task}: {model}, {args.backend} at {args.canvases} canvases"
    try:
        figures, drawn = write_figures(args.task, read_results(result.out), records, folder, args.figures,
                                       summary=result.summary, title=title)
    except (VideoError, OSError) as exc:  # the scores stand; a picture that cannot be drawn only warns
        print(f"figures: not drawn ({type(exc).__name__}: {exc})")
        return
    if figures:
        print(f"figures: {drawn} drawn, {len(figures) - drawn} kept -> {folder / 'index.html'}")
