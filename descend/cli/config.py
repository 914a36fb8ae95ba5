"""``descend config show`` prints the default config; ``descend config check FILE`` validates one."""

from __future__ import annotations

from ..app.config import check_config, to_toml


def add_parser(sub) -> None:
    p = sub.add_parser("config", help="show the default config or check a config file",
                       description="Show the full default config as TOML (a comment above each key), or "
                                   "validate a config file before training.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the default config as commented TOML",
                              description="Print the full default config as TOML with a comment per key; "
                                          "`descend config show > run.toml` starts a config of your own.")
    show.add_argument("file", nargs="?", help="print this config file resolved against the defaults instead")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="override a key (repeatable), e.g. --set optimizer.lr=0.01")
    show.set_defaults(handler=run_show)
    check = actions.add_parser("check", help="validate a config file",
                               description="Validate a config file (unknown keys, types, ranges, conflicts); "
                                           "exit 0 and print 'ok' when it is valid.")
    check.add_argument("file", help="the TOML config file")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a key (repeatable)")
    check.set_defaults(handler=run_check)


def run_show(args) -> int:
    cfg = check_config(args.file if args.file else {}, args.set)
    print(to_toml(cfg), end="")
    return 0


def run_check(args) -> int:
    user = _read_toml(args.file)
    if isinstance(user, dict) and isinstance(user.get("tune"), dict):   # a `descend tune` config
        from ..tune import parse_tune
        table = user.pop("tune")
        parse_tune(table, check_config(user, args.set))
    else:
        check_config(args.file, args.set)
    print(f"{args.file}: ok")
    return 0


def _read_toml(path):
    """The file's TOML as a dict, or None where it cannot be read (check_config then reports why)."""
    import tomllib
    from pathlib import Path
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
