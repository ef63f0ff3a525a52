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


# ---------------------------------------------------------------------------------------------- structure

MAX_ROOT_MODULES = 10
MAX_CONTRACT_NAMES = 12
MAX_FUNCTION_LINES = 60


def _contracts() -> list[dict]:
    import tomllib

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def _contract_names(contract: dict) -> list[str]:
    """Every module name a contract lists (a layer 'a | b' names two)."""
    names = [n.strip() for layer in contract.get("layers", []) for n in layer.split("|")]
    return names + list(contract.get("source_modules", [])) + list(contract.get("forbidden_modules", []))


def test_at_most_10_modules_at_the_root_of_depthnet():
    """Only what every layer shares lives at the root (config, errors, inference, ...); roles have packages."""
    root = [p.name for p in pathlib.Path(REPO, "depthnet").glob("*.py")]
    assert len(root) <= MAX_ROOT_MODULES, sorted(root)
    assert "__init__.py" in root


def test_contracts_name_packages_and_stay_short():
    contracts = _contracts()
    assert len(contracts) >= 4
    for contract in contracts:
        assert len(_contract_names(contract)) <= MAX_CONTRACT_NAMES, contract["name"]


def test_every_module_falls_under_a_contract():
    """A module no contract covers could import anything: every module of depthnet and data_prep is listed, or
    is inside a listed package (the root package `depthnet` itself only re-exports the API)."""
    listed = {n for c in _contracts() for n in _contract_names(c) if n.split(".")[0] in PACKAGES}
    graph = grimp.build_graph(*PACKAGES)
    left_out = sorted(
        m for m in graph.modules if m != "depthnet" and not any(m == n or m.startswith(n + ".") for n in listed)
    )
    assert not left_out, left_out


def _cli_modules():
    return sorted(pathlib.Path(REPO, "depthnet", "cli").glob("*.py"))


def test_no_cli_module_imports_another_cli_module():
    """CLI modules share only the harness (depthnet.cli.common); anything else two tools need is library code."""
    offenders = []
    for path in _cli_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("depthnet.cli"):
                whole = node.module == "depthnet.cli"
                names = [f"depthnet.cli.{a.name}" for a in node.names] if whole else [node.module]
                offenders += [f"{path.name}: {n}" for n in names if n != "depthnet.cli.common"]
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("depthnet.cli.")]
    assert not offenders, offenders


def test_cli_modules_read_flags_only_in_main_and_never_write_them():
    """A CLI parses flags in `main` and passes values on; no helper reads FLAGS, nothing assigns to it."""
    offenders = []
    for path in _cli_modules():
        if path.name in ("__init__.py", "common.py"):  # common.py is the harness that parses them
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(func):
                reads = (isinstance(node, ast.Name) and node.id == "FLAGS") or (
                    isinstance(node, ast.Attribute) and node.attr == "FLAGS"
                )
                if reads and func.name != "main":
                    offenders.append(f"{path.name}:{node.lineno} {func.name} reads FLAGS")
                if isinstance(node, (ast.Assign, ast.AugAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, (ast.Attribute, ast.Subscript)) and "FLAGS" in ast.unparse(target):
                            offenders.append(f"{path.name}:{node.lineno} writes {ast.unparse(target)}")
    assert not offenders, offenders


def test_no_library_function_over_60_lines():
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(pathlib.Path(path).read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{os.path.relpath(path, REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_one_table_of_optional_packages():
    """setup.py's extras are depthnet.extras.PIP_EXTRAS (read, not copied), and every module the runtime
    error names maps to the extra that installs it."""
    import runpy
    import sys

    from depthnet import extras

    argv = sys.argv
    try:
        sys.argv = ["setup.py", "--name"]
        namespace = runpy.run_path(os.path.join(REPO, "setup.py"), run_name="setup_extras")
    finally:
        sys.argv = argv
    assert namespace["EXTRAS"] == {extra: reqs for extra, (reqs, _) in extras.PIP_EXTRAS.items()}
    assert extras.EXTRAS["onnxruntime"] == "onnx" and extras.EXTRAS["ai_edge_litert"] == "litert"
    setup_text = pathlib.Path(REPO, "setup.py").read_text(encoding="utf-8")
    assert "onnxruntime>=" not in setup_text  # the requirement strings live in one place
