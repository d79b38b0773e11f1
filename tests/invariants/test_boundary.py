"""The boundary: only the search app writes search's models (photos, faces, crops, hits, probes, searches,
the suppression list). Every other app goes through search's services (search.stewardship and
search.services), where legal holds, restriction, suppression and excluded jurisdictions are checked.

Every .py file outside search/ (and outside tests/, bench/ and migrations) is parsed with ``ast``; a
write is:
- ``<Model>.objects…create/update/delete/bulk_create/bulk_update/get_or_create/update_or_create(...)``,
  also through a variable or a function of the module that holds such a queryset
  (``faces = Face.objects.filter(...); faces.update(...)``, ``_confirmed_faces(r).update(...)``);
- a write through a related manager of those models (``image.faces.all().delete()``, ``search.hits.create``);
- ``.save()`` / ``.delete()`` on an instance of them that the module can be seen to hold (made by
  ``Model(...)``, fetched by ``Model.objects.get/first/last/create``, iterated from such a queryset,
  or a parameter annotated with the model's type).

import-linter cannot say "may import but not write", so this check stands on its own.
"""

# row ids use the multiplication sign
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"SourceImage", "Face", "SearchHit", "ProbeFace", "SearchRequest", "Suppression"}
RELATED = {"faces", "hits", "probe_faces"}  # related names that only search's models use
WRITES = {
    "create",
    "update",
    "delete",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
}
INSTANCE_FETCH = {"get", "first", "last", "create", "earliest", "latest"}
SKIP_DIRS = {
    "search",
    "tests",
    "bench",
    "migrations",
    ".venv",
    ".data",
    "node_modules",
    "static",
    "locale",
    "docs",
}

# What legitimately remains outside search, each with its reason (ideally nothing).
ALLOWED: dict[tuple[str, str], str] = {}


def _chain(node: ast.AST) -> list[ast.AST]:
    """The receiver chain of a call or attribute, innermost first: a.b(c).d -> [a, a.b, a.b(c), a.b(c).d]."""
    out: list[ast.AST] = []
    while True:
        out.append(node)
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            break
    return list(reversed(out))


def _model_of(node: ast.AST, models: set[str]) -> str | None:
    """The search model whose manager is in this chain (``Face.objects`` or ``search.models.Face.objects``)."""
    for link in _chain(node):
        if isinstance(link, ast.Attribute) and link.attr == "objects":
            base = link.value
            name = (
                base.id
                if isinstance(base, ast.Name)
                else base.attr
                if isinstance(base, ast.Attribute)
                else ""
            )
            if name in models:
                return name
    return None


def _label(node: ast.AST) -> str:
    parts = []
    for link in _chain(node):
        if isinstance(link, ast.Name):
            parts.append(link.id)
        elif isinstance(link, ast.Attribute):
            parts.append(link.attr)
    return ".".join(parts)


class _Finder(ast.NodeVisitor):
    def __init__(self, models: set[str]) -> None:
        self.models = models
        self.querysets: dict[str, str] = {}  # variable -> model (a queryset of it)
        self.instances: dict[str, str] = {}  # variable -> model (an instance of it)
        self.functions: dict[str, str] = {}  # module function -> model whose queryset it returns
        self.found: list[tuple[int, str]] = []

    def _source_model(self, value: ast.AST) -> str | None:
        model = _model_of(value, self.models)
        if model:
            return model
        root = _chain(value)[0]
        if isinstance(root, ast.Name):
            if root.id in self.querysets:
                return self.querysets[root.id]
            call = _chain(value)[1] if len(_chain(value)) > 1 else None
            if root.id in self.functions and isinstance(call, ast.Call):
                return self.functions[root.id]
        return None

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for arg in [*node.args.args, *node.args.kwonlyargs]:
            ann = arg.annotation
            name = (
                ann.id
                if isinstance(ann, ast.Name)
                else ann.value
                if isinstance(ann, ast.Constant)
                else None
            )
            if name in self.models:
                self.instances[arg.arg] = str(name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Assign(self, node: ast.Assign) -> None:
        self._bind([t for t in node.targets if isinstance(t, ast.Name)], node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            self._bind([node.target], node.value)
        self.generic_visit(node)

    def _bind(self, targets: list[ast.Name], value: ast.AST) -> None:
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in self.models
        ):
            for t in targets:
                self.instances[t.id] = value.func.id  # Model(...)
            return
        model = self._source_model(value)
        if model is None:
            return
        last = _chain(value)[-1]
        fetch = (
            isinstance(last, ast.Call)
            and isinstance(last.func, ast.Attribute)
            and last.func.attr in INSTANCE_FETCH
        )
        for t in targets:
            (self.instances if fetch else self.querysets)[t.id] = model

    def visit_For(self, node: ast.For) -> None:
        model = self._source_model(node.iter)
        if model and isinstance(node.target, ast.Name):
            self.instances[node.target.id] = model
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            chain = _chain(func.value)
            root = chain[0]
            model = self._source_model(func.value)
            if func.attr in WRITES and model:
                self.found.append(
                    (
                        node.lineno,
                        f"{model}.{_label(func).split('.', 1)[-1]}"
                        if _model_of(func, self.models)
                        else f"{model} (via {_label(func)})",
                    )
                )
            elif func.attr in WRITES and any(
                isinstance(link, ast.Attribute) and link.attr in RELATED for link in chain
            ):
                self.found.append((node.lineno, f"related manager {_label(func)}"))
            elif (
                func.attr in ("save", "delete")
                and isinstance(root, ast.Name)
                and len(chain) == 1
                and root.id in self.instances
            ):
                self.found.append(
                    (node.lineno, f"{self.instances[root.id]} instance {root.id}.{func.attr}()")
                )
        self.generic_visit(node)


def _returns_search_queryset(tree: ast.Module, models: set[str]) -> dict[str, str]:
    functions = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Return)
                    and sub.value is not None
                    and (model := _model_of(sub.value, models))
                ):
                    functions[node.name] = model
    return functions


def writes_in(source: str) -> list[tuple[int, str]]:
    """Every write to search's models that this module's code makes (line, what)."""
    tree = ast.parse(source)
    finder = _Finder(MODELS)
    finder.functions = _returns_search_queryset(tree, MODELS)
    finder.visit(tree)
    return finder.found


def _files() -> list[Path]:
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0].startswith(".") or set(rel.parts[:-1]) & SKIP_DIRS:
            continue
        files.append(path)
    return files


def test_nothing_outside_search_writes_search_models():
    """Input: every application module outside search/. Expect: no write to search's models (but the allowed)."""
    files = _files()
    assert any(
        p.relative_to(ROOT).as_posix() == "subjects/services/workflow.py" for p in files
    )  # the walk sees the apps
    offences = []
    used = set()
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for line, what in writes_in(path.read_text()):
            key = (rel, what)
            if key in ALLOWED:
                used.add(key)
                continue
            offences.append(f"{rel}:{line}: {what}")
    assert not offences, (
        "only search may write search's models; call a service in search.stewardship:\n"
        + "\n".join(offences)
    )
    assert used == set(ALLOWED), (
        f"allowed writes that no longer exist (remove them): {set(ALLOWED) - used}"
    )


# The check itself, on the writes subjects made before search owned them (each must be caught).
CAUGHT = [
    ("SourceImage.objects.filter(pk__in=ids).delete()", "manager chain"),
    (
        "faces = Face.objects.filter(image_id=1)\nfaces.update(jurisdiction='FR')",
        "queryset variable",
    ),
    (
        "def _confirmed(r):\n    return Face.objects.filter(pk__in=r)\n\ndef f(r):\n    _confirmed(r).update(status='active')",
        "queryset from a module function",
    ),
    ("Suppression.objects.get_or_create(kind='image', value_sha256='x')", "suppression list"),
    ("def f(image: SourceImage):\n    image.save()", "annotated instance"),
    ("for face in Face.objects.all():\n    face.delete()", "iterated instance"),
    ("hit = SearchHit.objects.get(pk=1)\nhit.delete()", "fetched instance"),
    ("def f(image):\n    image.faces.all().delete()", "related manager"),
    (
        "from search import models\nmodels.Face.objects.filter().update(status='active')",
        "module attribute",
    ),
]


@pytest.mark.parametrize(
    "source", [c[0] for c in CAUGHT], ids=[f"boundary catches × {c[1]}" for c in CAUGHT]
)
def test_the_check_catches(source):
    """Input: a write that bypassed search before issue 18. Expect: the check reports it."""
    assert writes_in(source), source


def test_the_check_lets_reads_through():
    """Input: reads and writes of other apps' models. Expect: nothing reported."""
    source = (
        "faces = Face.objects.filter(pk__in=[1])\nlist(faces)\nFace.objects.filter(pk=1).exists()\n"
        "Candidate.objects.filter(pk=1).update(status='confirmed')\nrequest.candidates.all().delete()\n"
    )
    assert writes_in(source) == []
