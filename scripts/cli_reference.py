"""Write docs/cli.md, the command-line reference, from the typer app itself.

    .venv/bin/python scripts/cli_reference.py            # rewrites docs/cli.md
    .venv/bin/python scripts/cli_reference.py --check    # exit 1 if docs/cli.md is out of date

Every command and option comes from ``amorphxas.cli.app`` (typer's click objects), so the page lists
exactly what ``amorphxas COMMAND -h`` accepts; hidden options (old names kept for scripts) are
left out. tests/test_docs.py checks that the file is up to date.
"""

from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "cli.md"

HEADER = """# Reference: the command line

Generated from the installed `amorphxas` by `scripts/cli_reference.py` (do not edit by hand;
`tests/test_docs.py` checks that it is up to date). Every command also prints this with `-h`
or `--help`; `amorphxas --version` prints the version. A bad input or output path stops a
command with one line, `error: PATH: what is wrong` (exit code 1); a bad option value gives the
usage message (exit code 2).
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _type(param, command) -> str:
    """What the parameter takes, as the help shows it (`<path>`, `<random|stratified>`) or 'flag'."""
    if getattr(param, "is_flag", False):
        return "flag"
    shown = param.display_type(typer.Context(command)).strip("<>")
    return " \\| ".join(f"`{c}`" for c in shown.split("|")) if "|" in shown else shown


def _default(param) -> str:
    if param.required:
        return "required"
    default = param.default
    if isinstance(default, enum.Enum):
        default = default.value
    if default is None or callable(default) or (getattr(param, "is_flag", False)
                                                 and not param.secondary_opts and default is False):
        return ""
    if isinstance(default, (list, tuple)):
        return ", ".join(str(getattr(v, "value", v)) for v in default) if default else ""
    if param.param_type_name == "option" and param.secondary_opts:
        return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
    return f"`{default}`"


def _names(param) -> str:
    if param.param_type_name == "argument":
        return f"`{param.name.upper()}`"
    names = sorted(param.opts, key=len) + list(param.secondary_opts)
    return ", ".join(f"`{n}`" for n in names)


def _usage(path: list[str], command) -> str:
    parts = ["amorphxas", *path]
    if hasattr(command, "commands"):
        parts.append("COMMAND")
    for param in command.params:
        if param.param_type_name == "argument" and not getattr(param, "hidden", False):
            name = param.name.upper()
            name += "..." if param.nargs == -1 else ""
            parts.append(name if param.required else f"[{name}]")
    if any(p.param_type_name == "option" and not p.hidden for p in command.params):
        parts.insert(len(path) + 1, "[OPTIONS]")
    return " ".join(parts)


def _section(path: list[str], command, lines: list[str]) -> None:
    level = "#" * min(2 + len(path) - 1, 4)
    lines += [f"{level} `amorphxas {' '.join(path)}`", ""]
    lines += ["```text", _usage(path, command), "```", ""]
    help_text = (command.help or "").strip()
    if help_text:
        lines += [" ".join(p.split()) + "\n" for p in help_text.split("\n\n")]
    params = [p for p in command.params if not getattr(p, "hidden", False)
              and "--help" not in getattr(p, "opts", [])]
    if params:
        lines += ["| argument / option | value | default | meaning |", "|---|---|---|---|"]
        for p in params:
            meaning = getattr(p, "help", None) or ""
            lines.append(f"| {_names(p)} | {_type(p, command)} | {_default(p)} | {_cell(meaning)} |")
        lines.append("")
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                _section([*path, name], sub, lines)


def render() -> str:
    from amorphxas.cli import app

    root = typer.main.get_command(app)
    lines = [HEADER, "## Commands", ""]
    for name in sorted(root.commands):
        sub = root.commands[name]
        if sub.hidden:
            continue
        first = (sub.help or "").strip().split("\n\n")[0]
        lines.append(f"- [`{name}`](#amorphxas-{name.replace(' ', '-')}): {' '.join(first.split())}")
    lines.append("")
    for name in sorted(root.commands):
        if not root.commands[name].hidden:
            _section([name], root.commands[name], lines)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"{OUT.relative_to(ROOT)}: {text.count(chr(10))} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
