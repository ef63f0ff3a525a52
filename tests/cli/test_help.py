"""Every tool's --help (depthnet/cli/common.py): its docstring and its own flags with their defaults, exit 0.

The tools are setup.py's console scripts (read from setup.py) and `python -m depthnet.cli.main`; each is run
as a user runs it, a subprocess (the console script where it is installed). The flags a tool should list are
those its module's `define_flags` registers, found in a fresh process.
"""

import ast
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from helpers import BIN, REPO, run_cli


def _tools():
    """(label, command, module) per console script of setup.py's entry_points, and the main job's module."""
    tree = ast.parse(pathlib.Path(REPO, "setup.py").read_text(encoding="utf-8"))
    (entry_points,) = [n.value for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg == "entry_points"]
    tools = []
    for line in ast.literal_eval(entry_points)["console_scripts"]:
        name, target = (s.strip() for s in line.split("="))
        module = target.split(":")[0]
        path = os.path.join(BIN, name)
        tools.append((name, [path] if os.path.exists(path) else [sys.executable, "-m", module], module))
    return tools + [("depthnet.cli.main", [sys.executable, "-m", "depthnet.cli.main"], "depthnet.cli.main")]


TOOLS = _tools()
IDS = [label for label, _, _ in TOOLS]

# In one fresh process: per module, the flags its define_flags registers ({name: default text or None}),
# in the module itself or through the harness's helpers (common.define_model_flags), not those of what it
# imports (TensorFlow's), and its docstring's first line; each tool's flags are deleted again before the
# next one defines its own.
_DEFINED = """
import importlib, json, sys
from absl import flags

fv, out = flags.FLAGS, {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    before = set(fv)
    module.define_flags()
    own = (name, "depthnet.cli.common")
    new = sorted(n for n in set(fv) - before if fv.find_module_defining_flag(n) in own)
    out[name] = {"flags": {n: fv[n].default_as_str for n in new}, "doc": module.__doc__.strip().splitlines()[0]}
    for n in new:
        delattr(fv, n)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def defined():
    modules = sorted({module for _, _, module in TOOLS})
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(
        [sys.executable, "-c", _DEFINED, *modules], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _listed(text):
    """{flag name: its block of help text} of absl's flag listing (`  --name: help` / `  --[no]name: help`)."""
    blocks = re.split(r"\n(?=\s*(?:-\S,)?--)", text)
    found = {}
    for block in blocks:
        m = re.match(r"\s*(?:-\S,)?--(?:\[no\])?([A-Za-z0-9_]+):", block)
        if m:
            found[m.group(1)] = " ".join(block.split())
    return found


def test_the_tools_are_setup_pys_console_scripts():
    assert len(TOOLS) >= 8 and {"depthnet-export", "depthnet-eval", "depthnet.cli.main"} <= set(IDS)


@pytest.mark.parametrize("label,command,module", TOOLS, ids=IDS)
def test_help_lists_the_tools_own_flags_with_their_defaults(label, command, module, defined):
    res = run_cli(command + ["--help"])
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-2000:])
    out = res.stdout
    assert defined[module]["doc"] in out  # the tool's docstring, not the console-script wrapper's (none)
    listed = _listed(out[out.index("\nflags:\n") :])
    expected = {**defined[module]["flags"], "verbose": "'false'"}
    assert len(expected) >= 4, expected
    assert set(listed) == set(expected), (set(expected) ^ set(listed), out)  # its own flags, and only those
    for name, default in expected.items():
        if default is not None:
            assert f"(default: {' '.join(default.split())})" in listed[name], (name, default, listed[name])
    assert "Try --helpfull" in out
    # --helpshort (and -?) print the same.
    for flag in ("--helpshort", "-?"):
        short = run_cli(command + [flag])
        assert short.returncode == 0, (flag, short.stderr[-2000:])
        assert short.stdout == out, flag


def test_the_eval_tool_shows_its_protocol_default_and_helpfull_lists_every_flag():
    label, command, _ = next(t for t in TOOLS if t[0] == "depthnet-eval")
    out = run_cli(command + ["--help"]).stdout
    assert "--protocol:" in out and "(default: 'eigen')" in _listed(out)["protocol"]
    assert "run_with_pdb" not in out  # absl's flags are in --helpfull, not --help
    full = run_cli(command + ["--helpfull"])
    assert full.returncode == 0, full.stderr[-2000:]
    assert {"protocol", "verbose", "run_with_pdb", "helpfull", "flagfile"} <= set(_listed(full.stdout))


@pytest.mark.parametrize("label,command,module", TOOLS, ids=IDS)
def test_an_unknown_flag_is_one_error_line_and_exit_status_2(label, command, module):
    res = run_cli(command + ["--no_such_flag=1"])
    assert res.returncode == 2, res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "Unknown command line flag 'no_such_flag'" in errors[0], res.stderr[-2000:]
    tool = label if command[0] != sys.executable else os.path.basename(command[-1].replace(".", "/")) + ".py"
    assert errors[0].startswith(f"{tool}: error: ") or module.endswith(".prepare"), errors[0]
    assert "Traceback" not in res.stderr and not res.stdout
