"""``descend generate RUN_DIR --prompt TEXT --length N --temperature T [--top-k K]``."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="sample text from a trained language model",
                       description="Continue a prompt with characters sampled from a run trained on a text file "
                                   "(data.path = 'book.txt'): each character from softmax(scores / T) over the "
                                   "K best (greedy with --temperature 0). Prints the prompt and the continuation.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `descend train` on a .txt file")
    p.add_argument("--prompt", default="", help="the text to continue (characters of the training text)")
    p.add_argument("--length", type=int, default=200, metavar="N", help="characters to generate (default 200)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="sampling temperature: 1 the model's distribution, < 1 safer, 0 greedy (default 1)")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="sample only among the K likeliest")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling (default 0)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..app import generate_text
    print(generate_text(args.run_dir, args.prompt, args.length, args.temperature, args.top_k, args.seed))
    return 0
