#!/usr/bin/env python3
"""Generates eks-node-agent's man page and bash completion from the binary's own --help.

    gen-docs.py --binary build/eks-node-agent [--man OUT.8 [--help2man PATH]] [--completion OUT]

Run at build time (CMakeLists.txt, target agent_docs) right after the binary is linked, so neither
file can drift from the options the binary really has. Everything comes from:

  eks-node-agent --help            the bootstrap options, the usage lines naming the subcommands
  eks-node-agent SUB --help        for each subcommand in those usage lines, plus KNOWN_SUBCOMMANDS

A subcommand whose --help fails (or that a binary does not know yet, which answers with the top
level help) is tolerated: a documented one is still completed by name, an undocumented one is left
out, and a note goes to stderr.

Parsing rules (the two help styles the binary prints: its own, and CLI11's for max-pods):
  * an option is defined by an indented line starting with it ("  --cluster VALUE",
    "  -h,--help   Print ...", "  --instance-type TEXT ..."), or named in a usage line
    ("[--root DIR]"); the word after it in capitals (VALUE, TEXT, INT, DIR, URI) means it takes a
    value;
  * a value's choices are the first "a|b|c" in the option's description ("true|false",
    "raid0|raid10|mount|none"); otherwise its value completes as a file name;
  * the words after "eks-node-agent SUB" in its usage lines ("check", "dump", or "check|dump") are
    SUB's actions; "[bootstrap flags]" in a usage line adds the top level options to SUB's.

The man page is help2man's rendering of the top level help (with "usage:" spelled the way help2man
recognises it), plus a SUBCOMMANDS section holding each subcommand's help verbatim and the static
sections of packaging/eks-node-agent.h2m.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROGRAM = "eks-node-agent"
# Subcommands probed even when the top level usage does not (yet) name them.
KNOWN_SUBCOMMANDS = ["max-pods", "config", "status", "build-mode"]
NAME_LINE = "bootstrap an Amazon EKS node"
HERE = os.path.dirname(os.path.abspath(__file__))


def note(msg):
    print(f"gen-docs: {msg}", file=sys.stderr)


def run_help(binary, args):
    """The command's --help output, or None when it fails."""
    try:
        p = subprocess.run([binary, *args, "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=20, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as e:
        note(f"'{' '.join(args + ['--help'])}' did not run: {e}")
        return None
    if p.returncode != 0 or not p.stdout.strip():
        note(f"'{' '.join(args + ['--help'])}' failed (exit {p.returncode}); documented without it")
        return None
    return p.stdout


def usage_lines(text):
    """The usage block: the 'usage:' line and the indented lines naming the program after it."""
    out, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"(?i)usage:", stripped):
            inside = True
            out.append(re.sub(r"(?i)^usage:\s*", "", stripped))
        elif inside and line[:1].isspace() and stripped.startswith(PROGRAM):
            out.append(stripped)
        else:
            inside = False
    return out


class Command:
    def __init__(self):
        self.options = {}   # name -> takes a value
        self.choices = {}   # name -> [values]
        self.actions = []
        self.bootstrap_flags = False


OPTION_DEF = re.compile(r"^\s{1,8}((?:-[A-Za-z],\s*)?--?[A-Za-z0-9][A-Za-z0-9-]*)(?:[ =]+(\S+))?(.*)$")
CHOICES = re.compile(r"(?<![\w/.-])([a-z0-9][a-z0-9-]*(?:\|[a-z0-9][a-z0-9-]*)+)(?![\w/-])")


def takes_value(word):
    return bool(word) and re.fullmatch(r"[A-Z][A-Z0-9_]*(:[A-Z0-9_]+)?", word) is not None


def parse(text, sub=None):
    cmd = Command()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = OPTION_DEF.match(line)
        if not m or not line.lstrip().startswith("-"):
            continue
        names = [n.strip() for n in m.group(1).split(",")]
        value = takes_value(m.group(2))
        # The description: the rest of this line (CLI11) and the next, more indented line (ours).
        desc = m.group(3) if value else ((m.group(2) or "") + m.group(3))
        if i + 1 < len(lines) and len(lines[i + 1]) - len(lines[i + 1].lstrip()) > len(line) - len(line.lstrip()) \
                and not lines[i + 1].lstrip().startswith("-"):
            desc += " " + lines[i + 1]
        for n in names:
            cmd.options[n] = value
            if value and (c := CHOICES.search(desc)):
                cmd.choices[n] = c.group(1).split("|")
    for u in usage_lines(text):
        words = u.split()
        if sub:
            if words[1:2] != [sub]:
                continue
            if len(words) > 2 and re.fullmatch(r"[a-z][a-z0-9|-]*", words[2]):
                for a in words[2].split("|"):
                    if a not in cmd.actions:
                        cmd.actions.append(a)
        if "bootstrap flags" in u:
            cmd.bootstrap_flags = True
        for m in re.finditer(r"\[?(--[a-z0-9][a-z0-9-]*)(?:[ =]([A-Z][A-Z0-9_]*))?", u):
            cmd.options.setdefault(m.group(1), m.group(2) is not None)
    return cmd


def subcommands_in(main_help):
    subs = []
    for u in usage_lines(main_help):
        words = u.split()
        if len(words) > 1 and words[0] == PROGRAM and re.fullmatch(r"[a-z][a-z0-9-]*", words[1]):
            subs.append(words[1])
    return subs


def collect(binary):
    main_help = run_help(binary, [])
    if main_help is None:
        sys.exit(f"gen-docs: {binary} --help failed; cannot document it")
    documented = subcommands_in(main_help)
    subs = {}
    for s in documented + [k for k in KNOWN_SUBCOMMANDS if k not in documented]:
        h = run_help(binary, [s])
        if h is not None and h.strip() == main_help.strip():
            note(f"'{s} --help' printed the top level help: this binary has no '{s}' subcommand")
            h = None
        if h is None and s not in documented:
            continue
        subs[s] = h
    return main_help, subs


# --- bash completion ---------------------------------------------------------------------------

def words(xs):
    return " ".join(sorted(xs))


def completion(main_help, subs):
    top = parse(main_help)
    cmds = {s: (parse(h, s) if h else Command()) for s, h in subs.items()}
    for c in cmds.values():
        if c.bootstrap_flags:
            for k, v in top.options.items():
                c.options.setdefault(k, v)
            for k, v in top.choices.items():
                c.choices.setdefault(k, v)

    out = [
        "# bash completion for eks-node-agent                                   -*- shell-script -*-",
        f"# GENERATED at build time by packaging/gen-docs.py from `{PROGRAM} --help` and each",
        "# subcommand's --help; do not edit. Needs no bash-completion helpers.",
        "",
        "_eks_node_agent() {",
        '  local cur=${COMP_WORDS[COMP_CWORD]} prev=""',
        '  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}',
        '  # "--flag=value": bash splits at "=" (COMP_WORDBREAKS).',
        '  if [[ $cur == "=" ]]; then cur=""; elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then',
        '    prev=${COMP_WORDS[COMP_CWORD - 2]}',
        "  fi",
        '  local sub="" opts valopts',
        '  ((COMP_CWORD > 1)) && sub=${COMP_WORDS[1]}',
        '  case $sub in',
    ]

    def branch(pattern, c, actions_at=None):
        opts = words(c.options)
        val = words(k for k, v in c.options.items() if v)
        lines = [f"    {pattern})", f'      opts="{opts}"', f'      valopts="{val}"']
        if actions_at is not None and c.actions:
            lines.append(f'      if ((COMP_CWORD == 2)) && [[ $cur != -* ]]; then')
            lines.append(f'        COMPREPLY=($(compgen -W "{words(c.actions)}" -- "$cur")); return')
            lines.append("      fi")
        lines.append("      ;;")
        return lines

    for s, c in cmds.items():
        out += branch(s, c, actions_at=2)
    out += branch("*", top)
    out += ["  esac", "", "  # The value of an option that takes one."]
    choice_map = {}
    for c in [top, *cmds.values()]:
        for k, v in c.choices.items():
            choice_map.setdefault(k, v)
    out.append('  if [[ " $valopts " == *" $prev "* ]]; then')
    out.append("    case $prev in")
    for k, v in sorted(choice_map.items()):
        out.append(f'      {k}) COMPREPLY=($(compgen -W "{" ".join(v)}" -- "$cur"));;')
    out.append('      *) COMPREPLY=($(compgen -f -- "$cur"));;')
    out += ["    esac", "    return", "  fi"]
    out += [
        '  if [[ $cur == -* ]]; then',
        '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        '  elif ((COMP_CWORD == 1)); then',
        f'    COMPREPLY=($(compgen -W "{words(cmds)}" -- "$cur"))',
        "  fi",
        "}",
        f"complete -o default -F _eks_node_agent {PROGRAM}",
        "",
    ]
    return "\n".join(out)


# --- man page ------------------------------------------------------------------------------------

def for_help2man(text):
    """help2man recognises "Usage:" and "  or:  " continuation lines; the binary prints "usage:" and
    aligns the other forms under the first. Only that spelling changes."""
    out, inside = [], False
    for line in text.splitlines():
        if re.match(r"usage:", line):
            inside = True
            out.append("Usage:" + line[len("usage:"):])
        elif inside and line[:1].isspace() and line.strip().startswith(PROGRAM):
            out.append("  or:  " + line.strip())
        else:
            inside = False
            out.append(line)
    return "\n".join(out) + "\n"


def roff_verbatim(text):
    out = [".nf"]
    for line in text.rstrip("\n").splitlines():
        line = line.replace("\\", "\\e").replace("-", "\\-")
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    out.append(".fi")
    return "\n".join(out)


def man_page(binary, main_help, subs, help2man, out):
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (("help", for_help2man(main_help)), ("version", version)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        wrapper = os.path.join(tmp, PROGRAM)
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\ncase "$1" in --version) exec cat "${0%/*}/version";; esac\n'
                    'exec cat "${0%/*}/help"\n')
        os.chmod(wrapper, 0o755)
        include = os.path.join(tmp, "include.h2m")
        with open(include, "w") as f:
            f.write(f"[NAME]\n{PROGRAM} \\- {NAME_LINE}\n")
            if subs:
                f.write("[SUBCOMMANDS]\n")
                for s, h in subs.items():
                    f.write(f'.SS "{PROGRAM} {s}"\n')
                    if h:
                        f.write(roff_verbatim(h) + "\n")
                    else:
                        f.write(f"See \\fB{PROGRAM} {s} \\-\\-help\\fR.\n")
            with open(os.path.join(HERE, "eks-node-agent.h2m")) as static:
                f.write(static.read())
        subprocess.run([help2man, "--no-info", "--section", "8", "--manual", "System Administration",
                        "--include", include, "--output", out, wrapper], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--man")
    ap.add_argument("--help2man", default=shutil.which("help2man"))
    ap.add_argument("--completion")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    main_help, subs = collect(binary)
    if a.completion:
        with open(a.completion + ".tmp", "w") as f:
            f.write(completion(main_help, subs))
        os.replace(a.completion + ".tmp", a.completion)
    if a.man:
        if not a.help2man:
            sys.exit("gen-docs: help2man not found")
        man_page(binary, main_help, subs, a.help2man, a.man + ".tmp")
        os.replace(a.man + ".tmp", a.man)


if __name__ == "__main__":
    main()
