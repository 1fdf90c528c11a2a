#!/usr/bin/python3
"""Converts pytest's junit XML to TAP on stdout for automake's tap-driver.sh.

  junit2tap.py JUNIT_XML PYTEST_EXIT_STATUS

One TAP line per testcase. Failures, errors and skips are all `not ok` (a skip must not pass
silently, so no `# SKIP` directive is used); the first lines of each message follow as `#`
diagnostics. An expected failure (`@pytest.mark.xfail`: a junit skip of type pytest.xfail)
is `not ok ... # TODO reason`, which automake counts as XFAIL; a strict xfail that passes is
a junit failure, so it fails here too. A pytest exit status other than 0/1 adds one more
`not ok` line. No testcase at all, or an unreadable file, gives `Bail out!`.
"""

import sys
import xml.etree.ElementTree as ET


def clean(text):
    # '#' starts a TAP directive; keep names on one line.
    return " ".join((text or "").replace("#", "%23").split())


def cases(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        for case in suite.iter("testcase"):
            name = case.get("name", "?")
            cls = case.get("classname", "")
            full = "%s::%s" % (cls, name) if cls else name
            problems = [(el.tag, el.get("type") or "", el.get("message") or "", el.text or "")
                        for el in case if el.tag in ("failure", "error", "skipped")]
            yield full, problems


def main():
    path, status = sys.argv[1], int(sys.argv[2])
    try:
        results = list(cases(path))
    except (OSError, ET.ParseError) as e:
        print("Bail out! pytest produced no readable junit report (exit %d): %s" % (status, e))
        return 0
    if not results:
        print("Bail out! pytest ran no test (exit %d)" % status)
        return 0
    extra = status not in (0, 1)
    print("1..%d" % (len(results) + (1 if extra else 0)))
    n = 0
    for n, (name, problems) in enumerate(results, 1):
        if not problems:
            print("ok %d - %s" % (n, clean(name)))
            continue
        if all(p[:2] == ("skipped", "pytest.xfail") for p in problems):
            print("not ok %d - %s # TODO %s" % (n, clean(name), clean(problems[0][2])))
            continue
        kinds = ",".join(sorted({p[0] for p in problems}))
        print("not ok %d - %s (%s)" % (n, clean(name), kinds))
        for tag, _, message, text in problems:
            lines = message.splitlines()[:3] + (text or "").splitlines()[-12:]
            for line in lines:
                if line.strip():
                    print("#   %s" % line.rstrip()[:300])
    if extra:
        print("not ok %d - pytest exited with status %d (interrupted or internal error)"
              % (n + 1, status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
