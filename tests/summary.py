"""Counts test cases in meson's JUnit logs; prints 'N passed, M failed'.

Usage: summary.py JUNIT [RUNNER_RC [MORE_JUNIT...]] (the fuzz runs of
tests/run.sh come as a second log). Exit status 1 when any failed or none
ran."""
import sys
import xml.etree.ElementTree as ET

runner_rc = int(sys.argv[2]) if len(sys.argv) > 2 else 0
cases = []
for path in [sys.argv[1]] + sys.argv[3:]:
    cases += ET.parse(path).getroot().iter("testcase")
passed = failed = skipped = 0
for case in cases:
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
# A suite that crashed or timed out may have reported no failing case.
if runner_rc != 0 and failed == 0:
    failed = 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
