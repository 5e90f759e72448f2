"""Swift checks that need no Swift compiler (none exists for this Linux CI machine).

1. Every Swift file (the generated bindings, the package's hand-written layer, Package.swift,
   the sample app) parses with tree-sitter-swift, without ERROR or MISSING nodes.
2. Every symbol listed in bindings-swift/generated-api.txt (what the hand-written layer and the
   sample call) is declared in the generated bindings, with the same argument labels.
3. The list is complete: every generated type that hand-written code names is listed.

tree-sitter-swift does not know two constructs uniffi emits; they are rewritten before parsing
(see KNOWN_GAPS), never in the files themselves.
"""

import argparse
import re
import sys
from pathlib import Path

import tree_sitter as ts
import tree_sitter_swift as tss

PARSER = ts.Parser(ts.Language(tss.language()))

# (pattern, replacement, why): valid Swift that this grammar version rejects.
KNOWN_GAPS = [
    (rb"@_documentation\(visibility: *private\)", b"", b"underscored attribute"),
    (rb"\{ \(\) \}", b"{ }", b"closure whose body is the empty tuple (same type, () -> ())"),
]


def parse(path: Path):
    src = path.read_bytes()
    for pattern, replacement, _ in KNOWN_GAPS:
        src = re.sub(pattern, replacement, src)
    return PARSER.parse(src), src


def syntax_errors(tree):
    errors = []

    def walk(node):
        if node.type == "ERROR" or node.is_missing:
            errors.append(node)
            return
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return errors


def text(node):
    return node.text.decode()


def first(node, kind):
    return next((c for c in node.children if c.type == kind), None)


def is_public(node):
    mods = first(node, "modifiers")
    return mods is not None and any(
        text(m) in ("public", "open") for m in mods.children if m.type == "visibility_modifier"
    )


def labels(node):
    out = []
    for p in node.children:
        if p.type == "parameter":
            names = [c for c in p.children if c.type == "simple_identifier"]
            out.append(text(names[0]) if names else "_")
    return "(" + "".join(f"{l}:" for l in out) + ")"


def enum_labels(entry):
    params = first(entry, "enum_type_parameters")
    if params is None:
        return None
    names = [text(c) for c in params.children if c.type == "simple_identifier"]
    return "(" + "".join(f"{n}:" for n in names) + ")"


def declarations(tree):
    """{type name: set of members}, top-level functions under ''."""
    decls = {"": set()}

    def members(type_name, body, protocol=False):
        for m in body.children:
            if m.type in ("function_declaration", "protocol_function_declaration"):
                if protocol or is_public(m):
                    decls[type_name].add(text(first(m, "simple_identifier")) + labels(m))
            elif m.type == "init_declaration" and is_public(m):
                decls[type_name].add("init" + labels(m))
            elif m.type == "property_declaration" and (protocol or is_public(m)):
                for pattern in (c for c in m.children if c.type == "pattern"):
                    decls[type_name].add(text(pattern))
            elif m.type == "enum_entry":
                names = [c for c in m.children if c.type == "simple_identifier"]
                for name in names:
                    args = enum_labels(m) if len(names) == 1 else None
                    decls[type_name].add(text(name) + (args or ""))

    for node in tree.root_node.children:
        if node.type in ("class_declaration", "protocol_declaration") and is_public(node):
            name = text(first(node, "type_identifier"))
            decls.setdefault(name, set())
            body = next(
                (c for c in node.children if c.type in ("class_body", "enum_class_body", "protocol_body")),
                None,
            )
            if body is not None:
                members(name, body, protocol=node.type == "protocol_declaration")
        elif node.type == "function_declaration" and is_public(node):
            decls[""].add(text(first(node, "simple_identifier")) + labels(node))
    return decls


def type_references(tree):
    found = set()

    def walk(node):
        if node.type == "type_identifier":
            found.add(text(node))
        elif node.type == "simple_identifier":
            found.add(text(node))
        for c in node.children:
            walk(c)

    walk(tree.root_node)
    return found


def self_test():
    """The checks must be able to fail: a broken file, a wrong label, an unlisted type."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        gen = d / "Gen.swift"
        gen.write_text(
            "public struct Frame { public var width: UInt32\n"
            "  public init(width: UInt32) { self.width = width } }\n"
            "public enum Event { case prompt(code: String, text: String)\n case done }\n"
            "public func makeFrame(width: UInt32) -> Frame { Frame(width: width) }\n"
        )
        good = d / "Good.swift"
        good.write_text("let f = makeFrame(width: 3)\nlet e = Event.done\n")
        typed = d / "Typed.swift"
        typed.write_text("let g: Frame = makeFrame(width: 1)\n")
        broken = d / "Broken.swift"
        broken.write_text("func f( { let x = }\n")
        api = d / "api.txt"
        cases = [
            ("makeFrame(width:)\nFrame.init(width:)\nEvent.done\n", [good], 0),
            ("makeFrame(width:)\nFrame.init(width:)\nEvent.done\n", [good, broken], 1),
            ("makeFrame(height:)\nFrame.*\nEvent.*\n", [good], 1),
            ("Event.prompt(code:)\nFrame.*\nmakeFrame(width:)\n", [good], 1),
            ("makeFrame(width:)\nEvent.done\n", [good], 0),
            ("makeFrame(width:)\nEvent.done\n", [typed], 1),  # Frame named but not listed
        ]
        import subprocess

        for listing, sources, want in cases:
            api.write_text(listing)
            r = subprocess.run(
                [sys.executable, __file__, "--generated", str(gen), "--api", str(api), *map(str, sources)],
                capture_output=True,
                text=True,
            )
            got = 0 if r.returncode == 0 else 1
            if got != want:
                print(f"self-test failed for {listing!r} on {[s.name for s in sources]}:\n{r.stdout}")
                sys.exit(1)
    print("self-test: the checker catches syntax errors, wrong labels and unlisted types")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    ap = argparse.ArgumentParser()
    ap.add_argument("--generated", type=Path, required=True)
    ap.add_argument("--api", type=Path, required=True)
    ap.add_argument("sources", type=Path, nargs="+", help="hand-written Swift (layer, sample, Package.swift)")
    args = ap.parse_args()

    failed = False
    trees = {}
    for path in [args.generated, *args.sources]:
        tree, src = parse(path)
        trees[path] = tree
        for e in syntax_errors(tree):
            line = e.start_point[0] + 1
            snippet = src.splitlines()[e.start_point[0]].decode(errors="replace").strip()
            print(f"{path}:{line}: syntax error near: {snippet}")
            failed = True
    print(f"parsed {len(trees)} Swift files")

    decls = declarations(trees[args.generated])
    generated_types = {t for t in decls if t}
    listed_types = set()
    for raw in args.api.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        type_name, _, member = line.rpartition(".") if "." in line.split("(")[0] else ("", "", line)
        if type_name not in decls:
            print(f"{args.api}: {line}: type {type_name!r} is not in the generated bindings")
            failed = True
            continue
        listed_types.add(type_name)
        if member and member != "*" and member not in decls[type_name]:
            near = sorted(m for m in decls[type_name] if m.split("(")[0] == member.split("(")[0])
            print(f"{args.api}: {line}: not declared in the generated bindings (found: {near or 'nothing'})")
            failed = True

    hand_written = [p for p in args.sources if p.name != "Package.swift"]
    used = set().union(*(type_references(trees[p]) for p in hand_written))
    unlisted = sorted((used & generated_types) - listed_types)
    for t in unlisted:
        print(f"{args.api}: hand-written Swift uses generated type {t} but the list does not name it")
        failed = True
    print(f"{len(listed_types)} generated types and their listed members checked")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
