"""`pixelrec evaluate`: fit a baseline (or load the trained model) and evaluate it on test."""

from __future__ import annotations

import argparse

HELP = "evaluate a recommender (full-ranking retrieval by default) and write a result JSON"



def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pixelrec.models.registry import recommender_names  # light: no torch import

    parser.add_argument("--recommender_type", required=True, metavar="NAME",
                        help=f"a registered recommender: {', '.join(recommender_names())}")
    parser.add_argument("--train_data", help="train split (default: <data.split_data_path>/"
                                             "train.parquet)")
    parser.add_argument("--test_data", help="test split (default: <data.split_data_path>/"
                                            "test.parquet, masking that split's val file)")
    parser.add_argument("--val_data", help="val split whose items are masked too")
    parser.add_argument("--checkpoint", default="auto",
                        help="trained weights of the multimodal model (also as an ensemble "
                             "member): auto (default: what `pixelrec train` wrote, else train "
                             "now), best, last, a checkpoint path, or none (train now)")
    parser.add_argument("--eval_task", default="retrieval", metavar="TASK",
                        help="retrieval (full ranking, the default), ranking (sampled "
                             "candidates: AUC, GAUC, NDCG, MRR) or a registered task")
    parser.add_argument("--output", help="result file name under results_dir (a path if it has "
                                         "a directory part; default eval_<type>_<task>.json)")
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--use_sampling", dest="use_sampling", action="store_const",
                          const=True, default=None,
                          help="retrieval over sampled negatives (biased; evaluation.sampling)")
    sampling.add_argument("--no_sampling", dest="use_sampling", action="store_const",
                          const=False, help="full ranking over every item (the default)")
    parser.add_argument("--num_negatives", type=int,
                        help="sampled negatives per user (evaluation.sampling.num_negatives)")
    parser.add_argument("--sampling_strategy", choices=("uniform", "popularity"),
                        help="how negatives are drawn (evaluation.sampling.strategy)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.evaluation import evaluate_recommender, format_result

    config = load(args, {"use_sampling": "evaluation.sampling.enabled",
                          "num_negatives": "evaluation.sampling.num_negatives",
                          "sampling_strategy": "evaluation.sampling.strategy"})
    output = args.output or f"eval_{args.recommender_type}_{args.eval_task}.json"
    result = evaluate_recommender(config, args.recommender_type, train_path=args.train_data,
                                  test_path=args.test_data, val_path=args.val_data,
                                  task=args.eval_task, output=output,
                                  checkpoint=args.checkpoint)
    meta = result["metadata"]
    print(f"{args.recommender_type} | task {meta['task']} | {meta['mode']} | "
          f"{meta['counts']['evaluated_users']} users | {meta['catalogue']['n_items']} items")
    if meta.get("user_sample"):
        sample = meta["user_sample"]
        print(f"note: a seeded sample of {sample['users']} of the {sample['of']} test users "
              f"(evaluation.max_users)")
    if "sampling" in result:
        print(f"note: {result['sampling']['warning']}")
    print(format_result(result))
    print(f"wrote {meta['output']}")
    return 0
