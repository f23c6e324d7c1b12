#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fill a man page template: @VERSION@ from the VERSION file, @OPTIONS@ from `relinkd --help`.

    man/gen-man.py TEMPLATE VERSION_FILE [RELINKD] > page

The OPTIONS section is made from the "Options:" block of the help text at build time, so the
man page and --help cannot drift apart. Help layout: an option line is two spaces, the option and
its argument, padded to column 25, then its description; continuation lines are indented to column
25 (deeper indentation is a literal line of its own).
"""
import subprocess
import sys

DESC_COL = 25


def esc(text):
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 127:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    s = "".join(out)
    # Long paths and globs: allow a line break after each '/' (\: is an invisible break point),
    # or the formatter cannot fit them in the line length.
    s = " ".join(w.replace("/", "/\\:") if len(w) > 40 else w for w in s.split(" "))
    return "\\&" + s if s[:1] in (".", "'") else s


def options_roff(help_text):
    lines = help_text.split("\n")
    try:
        start = lines.index("Options:") + 1
    except ValueError:
        sys.exit("gen-man: no 'Options:' block in relinkd --help")
    out = []
    n = 0
    for line in lines[start:]:
        if not line.strip():
            break
        if line.startswith("  --"):
            if len(line) <= DESC_COL or line[DESC_COL - 1] == " ":
                head, desc = line[2:DESC_COL].rstrip(), line[DESC_COL:].strip()
            else:                       # a long option: its description starts on the next line
                head, desc = line.strip(), ""
                if "  " in head:
                    sys.exit("gen-man: option line not aligned at column %d: %r" % (DESC_COL, line))
            opt, _, arg = head.partition(" ")
            out.append(".TP")
            out.append('.BI "%s " %s' % (esc(opt), esc(arg)) if arg else ".B %s" % esc(opt))
            if desc:
                out.append(esc(desc))
            n += 1
        elif line.startswith(" " * DESC_COL):
            body = line[DESC_COL:]
            if body.startswith(" "):
                out.append(".br")
                out.append("\\ \\ " + esc(body.strip()))
            else:
                out.append(esc(body))
        else:
            sys.exit("gen-man: unexpected line in the Options block: %r" % line)
    if n == 0:
        sys.exit("gen-man: no options found")
    return "\n".join(out)


def main():
    template, version_file = sys.argv[1], sys.argv[2]
    relinkd = sys.argv[3] if len(sys.argv) > 3 else None
    version = open(version_file).read().strip()
    page = open(template).read().replace("@VERSION@", version)
    if "@OPTIONS@" in page:
        if not relinkd:
            sys.exit("gen-man: %s has @OPTIONS@: give the relinkd binary" % template)
        text = subprocess.run([relinkd, "--help"], check=True, capture_output=True, text=True).stdout
        page = page.replace("@OPTIONS@", options_roff(text))
    sys.stdout.write(page)


main()
