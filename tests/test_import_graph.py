from pathlib import Path

from tests.import_graph import cycles, problems

ROOT = Path(__file__).resolve().parents[1]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_shipped_layout_has_no_cycle_no_upward_import_and_no_eager_bench_import():
    assert problems(ROOT) == []


def test_a_cycle_an_upward_import_and_an_eager_bench_import_are_each_named(tmp_path: Path):
    write(tmp_path, {
        "agent/__init__.py": "",
        "agent/a.py": "from agent.b import thing\n",
        "agent/b.py": "def later():\n    from agent import a\n",  # lazy, still a cycle
        "memory/__init__.py": "",
        "memory/store.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from serving.settings import S\n",
        "prompts/__init__.py": "",
        "serving/__init__.py": "",
        "serving/cli.py": "import bench.cli\n\ndef run():\n    from bench.eval import report\n",
    })
    found = problems(tmp_path)
    assert found == [
        "memory/store.py:3: memory.store imports serving.settings (memory/ must not import serving/)",
        "serving/cli.py:1: serving.cli imports bench.cli at module level (import bench/ lazily)",
        "import cycle: agent.a -> agent.b",
    ]


def test_relative_imports_resolve_to_their_package(tmp_path: Path):
    write(tmp_path, {
        "agent/__init__.py": "", "agent/x/__init__.py": "from . import y\n", "agent/x/y.py": "from .. import z\n",
        "agent/z.py": "from agent.x import y\n", "memory/__init__.py": "", "prompts/__init__.py": "",
        "serving/__init__.py": "",
    })
    assert problems(tmp_path) == ["import cycle: agent.x.y -> agent.z"]


def test_cycles_finds_every_loop_and_a_module_importing_itself():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert cycles(edges) == [["a", "b", "c"], ["d"]]
