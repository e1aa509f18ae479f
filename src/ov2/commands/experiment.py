"""``ov2 experiment jumprope|tracking|point-probe``: codec vs fixed vs frames on one tiny model; can it point?

    ov2 experiment jumprope --out exp/ --quick              # one budget (8 canvases), sized for a 2-core CPU
    ov2 experiment jumprope --out exp/ --seed 7             # budgets 8/16/32, two seeds; uses a GPU when present
    ov2 experiment jumprope --out exp/ --n-seeds 1          # the full plan with one seed (~25 min on one H100)
    ov2 experiment tracking --out exp_tr/ --quick           # tracking: point F1 / HOTA per arm + first-frame baseline
    ov2 experiment point-probe --steps 400                  # can the tiny model learn to point at one disc at all?

Data, precompute, training, evaluation and the report are stages that resume after a kill;
every ov2 command the experiment runs is appended to OUT/commands.sh. Results: OUT/results.md,
OUT/results.json, OUT/map_vs_budget.png, checkpoints in OUT/runs/<arm>_<canvases>_s<seed>/final.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("experiment", help="trained experiments: codec vs frames on one model (jumprope, "
                              "tracking); can a model point at all (point-probe)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="experiment", metavar="NAME")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    jr = sub.add_parser("jumprope", help="JumpScore (and grounding) with codec / fixed / frames input at matched budgets")
    tr = sub.add_parser("tracking", help="object tracking (point F1, HOTA) with codec / fixed / frames input, "
                        "against a first-frame baseline")
    for q in (jr, tr):
        q.add_argument("--out", required=True, help="experiment directory (resumable)")
        q.add_argument("--quick", action="store_true", help="one budget, sized for this CPU (see docs/experiments.md)")
        q.add_argument("--seed", type=int, default=0, help="seed of the data splits and training (default 0)")
        q.add_argument("--n-seeds", type=int, default=None,
                       help="train seeds S, S+1, ..., S+N-1 (default: 1 with --quick, 2 without)")
        q.add_argument("--steps", type=int, default=None, help="override the plan's optimiser steps per run")
        q.add_argument("--budgets", type=lambda s: tuple(int(x) for x in s.split(",")), default=None,
                       help="override the canvas budgets, e.g. 8,16")
        q.add_argument("--candidates-per-group", type=int, default=None,
                       help="override the canvas arms' candidate frames per group (default 24; 0: the tokenizer's "
                       "budget-following default)")
        q.add_argument("--no-progress", action="store_true", help="hide progress bars")
        q.set_defaults(func=run)
    pp = sub.add_parser("point-probe", help="can a tiny-model configuration learn to point at one disc at all? "
                        "(minutes; see ov2.experiments.point_probe)")
    pp.add_argument("--task", choices=("point", "color"), default="point",
                    help="point: answer the disc's X Y; color: its colour index (the control; no place needed)")
    pp.add_argument("--steps", type=int, default=400, help="optimiser steps (default 400)")
    pp.add_argument("--batch", type=int, default=16, help="fresh images per step (default 16)")
    pp.add_argument("--lr", type=float, default=3e-3, help="peak learning rate, cosine with 5%% warmup (default 3e-3)")
    pp.add_argument("--train-modules", default="language_model",
                    help="comma-separated: vision, merger, language_model (default language_model, as the preset)")
    pp.add_argument("--width", type=int, default=64, help="tiny model width: 64, 128 or 256 (default 64)")
    pp.add_argument("--text-layers", type=int, default=2, help="language-model layers (default 2)")
    pp.add_argument("--no-patch-positions", action="store_true", help="turn off the merger's absolute patch embeddings")
    pp.add_argument("--seed", type=int, default=0, help="seed of the model and the images (default 0)")
    pp.add_argument("--eval-every", type=int, default=100, help="score the validation images every N steps")
    pp.add_argument("--out", default=None, help="also write the score lines here (JSONL)")
    pp.add_argument("--save", default=None, help="write the trained model and processor here (for ov2 train --init)")
    pp.set_defaults(func=run_point_probe)


def run_point_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..experiments.point_probe import ProbeConfig, run_probe

    modules = tuple(m.strip() for m in args.train_modules.split(",") if m.strip())
    config = ProbeConfig(task=args.task, steps=args.steps, batch=args.batch, learning_rate=args.lr,
                         train_modules=modules, width=args.width, text_layers=args.text_layers,
                         patch_positions=not args.no_patch_positions, seed=args.seed, eval_every=args.eval_every)
    run_probe(config, Path(args.out) if args.out else None, Path(args.save) if args.save else None)
    return 0


def run(args: argparse.Namespace) -> int:
    import importlib

    from ..errors import InvalidOptionError

    module = importlib.import_module(f"ov2.experiments.{args.experiment}")
    Experiment, make_plan = module.Experiment, module.make_plan

    overrides = {}
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.n_seeds is not None:
        if args.n_seeds < 1:
            raise InvalidOptionError(f"--n-seeds must be >= 1, got {args.n_seeds}")
        overrides["seeds"] = tuple(range(args.seed, args.seed + args.n_seeds))
    if args.budgets is not None:
        overrides["budgets"] = args.budgets
        if args.experiment == "jumprope":
            overrides["grounding_budget"] = args.budgets[0]
    if args.candidates_per_group is not None:
        if args.candidates_per_group < 0:
            raise InvalidOptionError(f"--candidates-per-group must be >= 0, got {args.candidates_per_group}")
        overrides["candidates_per_group"] = args.candidates_per_group or None
    plan = make_plan(args.quick, args.seed, overrides)
    experiment = Experiment(args.out, plan, progress=not args.no_progress)
    doc = experiment.run()
    print((experiment.out / "results.md").read_text())
    figure = experiment.out / "map_vs_budget.png"
    print(f"wrote {experiment.out / 'results.json'}, {f'{figure}, ' if figure.is_file() else ''}"
          f"{experiment.out / 'commands.sh'} ({doc['total_s']:.0f} s)")
    return 0
