"""The codebase's shape: no import cycles, files a reader can take in, flagfiles that match the experiments."""

import ast
import os
import pathlib

import grimp
import pytest
from helpers import REPO, read_flagfile

from depthnet.config import EXPERIMENTS, experiment_flags

MAX_FILE_LINES = 400
PACKAGES = ("depthnet", "data_prep")


def _sources():
    for package in PACKAGES:
        for root, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(root, name)


def test_no_import_cycles():
    """No module reaches itself through the imports of others (function-level imports included)."""
    graph = grimp.build_graph(*PACKAGES)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} <-> {imported}")
    assert not cycles, cycles


def test_no_module_over_400_lines():
    long = {}
    for path in _sources():
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_FILE_LINES:
            long[os.path.relpath(path, REPO)] = n
    assert not long, long


def test_no_library_module_uses_absl_or_data_prep_outside_cli():
    """What import-linter's contracts say, checked on the parsed sources too (the CLI layer is the only user)."""
    offenders = []
    for path in _sources():
        rel = os.path.relpath(path, REPO)
        if rel.startswith(os.path.join("depthnet", "cli")):
            continue
        tree = ast.parse(pathlib.Path(path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                top = name.split(".")[0]
                if top == "absl" or (top == "data_prep" and rel.startswith("depthnet")):
                    offenders.append(f"{rel}: {name}")
    assert not offenders, offenders


def _normalised(value):
    try:
        return float(value)
    except ValueError:
        return value


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_flagfile_is_the_experiment_of_depthnet_config(name):
    """experiments/<name>.flags says exactly what depthnet.config.experiment(name) defines."""
    in_file = {k: _normalised(v) for k, v in read_flagfile(os.path.join(REPO, "experiments", f"{name}.flags")).items()}
    defined = {k: _normalised(v) for k, v in (line[2:].partition("=")[::2] for line in experiment_flags(name))}
    assert in_file == defined
