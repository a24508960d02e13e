"""What the comparison reports (bench/server_report.py, bench/streams_report.py)
share: reading the JSON lines of a run, the figures' formats, and the
command line and doc section they have in common."""
import argparse
import json

from report import replace_section  # bench/report.py, next to this file


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if n == 0 else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def fmt_rate(x):
    if x is None:
        return None
    if x >= 1e6:
        return "%.2f M/s" % (x / 1e6)
    if x >= 1e3:
        return "%.1f k/s" % (x / 1e3)
    return "%.0f /s" % x


def fmt_us(x):
    return None if x is None else ("%.0f us" % x if x >= 100 else "%.1f us" % x)


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "-"


def met(ok):
    return "pending" if ok is None else ("yes" if ok else "**no**")


def load_runs(path, key):
    """The runs of a JSON-lines file as (ok, errors): ok maps key(run) to
    the list of its runs; errors holds the lines that are not JSON, the runs
    with an "error", and the runs whose "check" is not "ok" (which stay in
    ok too: their figures were measured)."""
    ok, errors = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                errors.append({"error": "unparsable line: " + line[:300]})
                continue
            if "error" in r:
                errors.append(r)
                continue
            if r.get("check", "ok") != "ok":
                errors.append(dict(r, error="check failed: " + r["check"]))
            ok.setdefault(key(r), []).append(r)
    return ok, errors


def failed_runs(errors, transport_field):
    """The "Runs that failed" section's lines (empty when none failed)."""
    if not errors:
        return []
    out = ["", "### Runs that failed", ""]
    for e in errors:
        out.append("- %s %s %s: %s" % (e.get("label", "?"), e.get("case", e.get("args", "?")),
                                       transport_field(e), e["error"]))
    return out


def arg_parser(doc):
    """The arguments every report takes: RESULTS.jsonl --reps --seconds
    --context KEY=VALUE... --write-doc DOC.md."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("results")
    p.add_argument("--reps", default="?")
    p.add_argument("--seconds", default="?")
    p.add_argument("--context", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--write-doc", metavar="DOC.md")
    return p


def write_section(doc, begin, end, text):
    """Replaces the text between the markers begin and end of the file doc."""
    with open(doc) as f:
        body = f.read()
    body = replace_section(body, begin, end, text, doc)
    with open(doc, "w") as f:
        f.write(body)
