"""``descend doctor RUN_DIR``: print the diagnosis of a run from its health data and history."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="diagnose a run: vanishing/exploding gradients, divergence, dead units, "
                                      "plateau, over/underfitting",
                       description="Read a run folder's history.csv, health.csv and divergence.json and print "
                                   "every finding (severity, layers, evidence, remedies). Exit status 1 when a "
                                   "finding is an error, else 0.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `descend train`")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..diagnose import diagnose_run, format_findings
    findings = diagnose_run(args.run_dir)
    print(format_findings(findings))
    return 1 if any(f.severity == "error" for f in findings) else 0
