"""BENCHMARKS.md holds one section per benchmark command, between marker comments; each command
rewrites only its own (host first, then VM). Usage: sections.py FILE NAME BODY_FILE."""
import re
import sys

ORDER = ["host", "vm"]


def write(path, name, body):
    try:
        old = open(path).read()
    except FileNotFoundError:
        old = ""
    secs = {m.group(1): m.group(0).rstrip("\n") + "\n" for m in
            re.finditer(r"<!-- bench:(\w+) begin -->.*?<!-- bench:\1 end -->", old, re.S)}
    secs[name] = "<!-- bench:%s begin -->\n%s<!-- bench:%s end -->\n" % (name, body, name)
    with open(path, "w") as f:
        f.write("# Benchmarks\n\n" + "\n".join(secs[k] for k in ORDER if k in secs))


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2], open(sys.argv[3]).read())
