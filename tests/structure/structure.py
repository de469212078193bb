"""The shape of the tree, as README "How it works" states it:

1. src/functions/ and src/fdw/ import only src/backend/ and the pure crates, never each other,
   and src/backend/ imports neither surface;
2. no function is longer than 80 lines outside `#[cfg(test)]` modules;
3. the pure crates forbid unsafe code and document every public item (missing_docs denied).

Reads the Rust sources as text; builds and runs nothing.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 80
PURE_CRATES = ["crates/dune-api", "crates/pg-format"]

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {what}")


def crate_imports(path):
    """The `crate::<top>::<module>` paths a file uses (use lines and inline paths)."""
    text = path.read_text()
    found = set()
    for m in re.finditer(r"crate::(\w+)(?:::(\w+))?", text):
        found.add((m.group(1), m.group(2)))
    # `use crate::{a, b::c}` groups
    for m in re.finditer(r"use crate::\{([^}]*)\}", text, re.S):
        for part in m.group(1).split(","):
            part = part.strip()
            if part:
                bits = part.split("::")
                found.add((bits[0], bits[1] if len(bits) > 1 else None))
    return found


def import_rule():
    surfaces = {"functions": "fdw", "fdw": "functions"}
    for surface, other in surfaces.items():
        for f in sorted((ROOT / "src" / surface).rglob("*.rs")):
            for top, _ in crate_imports(f):
                check(top != other, f"{f.relative_to(ROOT)} imports crate::{other}")
                check(
                    top in ("backend", surface),
                    f"{f.relative_to(ROOT)} imports crate::{top} (only backend and {surface} are allowed)",
                )
    for f in sorted((ROOT / "src" / "backend").rglob("*.rs")):
        for top, _ in crate_imports(f):
            check(top == "backend", f"{f.relative_to(ROOT)} imports crate::{top}")
    # an edge of the rule broken on purpose must be caught (the check itself can fail)
    probe = ROOT / "target" / "structure-probe.rs"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text("use crate::fdw::plan;\n")
    check(("fdw", "plan") in crate_imports(probe), "the import reader sees a use line")
    probe.unlink()


FN_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:unsafe\s+)?(?:extern\s+\"[^\"]+\"\s+)?fn\s+(\w+)")


def functions(path):
    """(name, first line, line count) of every fn with a body, outside #[cfg(test)] modules."""
    lines = path.read_text().splitlines()
    out = []
    skip_until = -1
    i = 0
    while i < len(lines):
        line = lines[i]
        if i > skip_until and line.strip() == "#[cfg(test)]":
            # skip the test module: to the end of its braces
            depth, j, opened = 0, i + 1, False
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                opened |= "{" in lines[j]
                if opened and depth <= 0:
                    break
                j += 1
            skip_until = j
        m = FN_RE.match(line)
        if i > skip_until and m:
            depth, j, opened = 0, i, False
            while j < len(lines):
                stripped = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])\'', "", lines[j])
                stripped = stripped.split("//")[0]
                if not opened and ";" in stripped and "{" not in stripped:
                    break  # a declaration without a body
                depth += stripped.count("{") - stripped.count("}")
                opened |= "{" in stripped
                if opened and depth <= 0:
                    out.append((m.group(1), i + 1, j - i + 1))
                    break
                j += 1
        i += 1
    return out


def function_lengths():
    files = list((ROOT / "src").rglob("*.rs")) + list((ROOT / "crates").glob("*/src/**/*.rs"))
    longest = []
    for f in sorted(files):
        rel = str(f.relative_to(ROOT))
        for name, line, n in functions(f):
            longest.append((n, rel, name, line))
            check(n <= MAX_LINES, f"{rel}:{line} fn {name} has {n} lines (at most {MAX_LINES})")
    longest.sort(reverse=True)
    print("longest functions:", ", ".join(f"{n} {r}:{l} {name}" for n, r, name, l in longest[:5]))


def pure_crates():
    for crate in PURE_CRATES:
        lib = ROOT / crate / "src" / "lib.rs"
        text = lib.read_text() if lib.exists() else ""
        check("#![forbid(unsafe_code)]" in text, f"{crate} forbids unsafe code")
        check("#![deny(missing_docs)]" in text, f"{crate} documents every public item")


import_rule()
function_lengths()
pure_crates()
print(f"structure: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
