"""The shape of the tree, as README "How it works" states it:

1. src/functions/ and src/fdw/ import only src/backend/ and the pure crates, never each other,
   and src/backend/ imports neither surface;
2. no files of src/ import each other in a loop (a file imports another when it names an item
   of it: `use crate::…`, `super::…`, a child module's `name::…`, or an inline `crate::…` path);
3. no function is longer than 80 lines outside `#[cfg(test)]` modules;
4. the pure crates forbid unsafe code and document every public item (missing_docs denied).

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


def module_of(path):
    """The module path of a file of src/ (`src/fdw/plan/mod.rs` → ('fdw', 'plan'))."""
    parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def code_only(text):
    """The text without comments and string literals (paths in them are not imports)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return re.sub(r"//[^\n]*", "", text)


def referenced_paths(module, text):
    """The module paths a file's code names: `crate::a::b`, `super::a`, a child's `name::`,
    with `use … ::{a, b::c}` groups expanded."""
    code = code_only(text)
    children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code, re.M))
    found = []
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)*)(::\{([^}]*)\})?", code):
        head, rest, group = m.group(1), m.group(2), m.group(4)
        if not rest and group is None:
            continue  # `pub(super)`, `pub(crate)`: visibility, not a path
        base = () if head == "crate" else (module[:-1] if head == "super" else module)
        prefix = base + tuple(p for p in rest.split("::") if p)
        if group is None:
            found.append(prefix)
        else:
            for item in group.split(","):
                bits = tuple(b for b in item.strip().split("::") if b and b != "self")
                found.append(prefix + bits[:2])
    for name in children:
        if re.search(rf"(?<![\w:]){name}::", code):
            found.append(module + (name,))
    return found


def import_graph(files):
    """{module: {modules it imports}} for `files` ({module: text}), each path resolved to the
    longest module that exists."""
    graph = {}
    for module, text in files.items():
        edges = set()
        for path in referenced_paths(module, text):
            for n in range(len(path), 0, -1):
                if path[:n] in files:
                    if path[:n] != module:
                        edges.add(path[:n])
                    break
        graph[module] = edges
    return graph


def loops(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def no_import_loops():
    files = {module_of(f): f.read_text() for f in sorted((ROOT / "src").rglob("*.rs"))}
    graph = import_graph(files)
    found = loops(graph)
    for comp in found:
        names = ", ".join("src/" + "/".join(m) for m in comp)
        check(False, f"files of src/ import each other in a loop: {names}")
    check(not found, "no import loops in src/")
    edges = sum(len(e) for e in graph.values())
    print(f"import graph of src/: {len(graph)} files, {edges} imports, {len(found)} loops")
    # a loop made on purpose must be found (the check itself can fail)
    probe = {
        ("fdw",): "pub mod a;\npub mod b;\n",
        ("fdw", "a"): "use crate::fdw::b::thing;\n",
        ("fdw", "b"): "use super::a::{other, more};\n",
    }
    check(loops(import_graph(probe)) == [[("fdw", "a"), ("fdw", "b")]], "the loop finder finds a loop")


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
no_import_loops()
function_lengths()
pure_crates()
print(f"structure: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
