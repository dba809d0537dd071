"""`pixelrec train`: train the multimodal model (also under `torchrun --nproc_per_node N`)."""

from __future__ import annotations

import argparse

HELP = "train the multimodal recommender on the split (checkpoints, curves, metadata)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                        help="override training.device (default: auto)")
    parser.add_argument("--resume", nargs="?", const="last", metavar="CHECKPOINT",
                        help="continue from a checkpoint: last (default), best or a path")
    parser.add_argument("--use_wandb", action="store_const", const=True, default=None,
                        help="log to Weights & Biases (needs `pip install wandb`; "
                             "WANDB_MODE=offline works without a network)")
    parser.add_argument("--wandb_project", help="override training.wandb_project")
    parser.add_argument("--wandb_entity", help="override training.wandb_entity")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.training import train_model

    config = load(args, {"use_wandb": "training.use_wandb",
                          "wandb_project": "training.wandb_project",
                          "wandb_entity": "training.wandb_entity"})
    summary = train_model(config, device=args.device, resume=args.resume,
                          config_path=args.config)
    if summary["world_size"] > 1 and not _is_rank0():
        return 0
    best = summary["best_val_ndcg@10"]
    shown = "n/a" if best is None else f"{best:.4f}"
    if summary["resumed_from"] and summary["new_epochs"] == 0:
        why = ("it stopped early (training.patience)" if summary["early_stopped"]
               else "it reached training.epochs")
        print(f"nothing left to train: the resumed run had finished ({why}); raise "
              f"training.epochs to train on.")
    elif summary["resumed_from"]:
        print(f"resumed: {summary['new_epochs']} more epoch(s) in "
              f"{summary['session_seconds']:.1f} s")
    print(f"trained {summary['epochs']} epochs in {summary['seconds']:.1f} s on "
          f"{summary['device']} (x{summary['world_size']}); best val NDCG@10 {shown} "
          f"(epoch {summary['best_epoch']}); checkpoint {summary['checkpoint']}")
    return 0


def _is_rank0() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
