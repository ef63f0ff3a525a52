#!/usr/bin/env python3
"""Table 1 of the paper ("ours" block) next to our ablation runs.

    python experiments/table1.py --baseline=runs/baseline --dfe=runs/dfe --dfe_afb=runs/dfe_afb \
        --full=runs/full --output_md=results/table1.md --output_json=results/table1.json

Each of --baseline/--dfe/--dfe_afb/--full (any subset) is a `metrics.json` written by
`depthnet-eval` (or by training), a folder holding one, or a model_dir holding `eval/metrics.json`.
For every row the paper's numbers (experiments/paper_table1.json) are printed above ours; a run that
is not given or has no metrics shows "—". Our rows are marked [P1], [P2], ... with the evaluation
protocol that produced them (crop, depth range, filled/raw ground truth, averaging, input size, TTA)
listed under the table: numbers under different protocols are not comparable. The paper does not
state its protocol beyond "similar to previous works [9, 25, 31, 44]"; ours are compared under the
closest preset, `eigen` (depthnet.evaluation.presets.TABLE1_PROTOCOL: Eigen crop, raw depth, every test pixel
pooled, no flip; `depthnet-eval`'s default), and a row evaluated under another protocol is flagged.
A second table gives our rows' depth-boundary metrics (iBims-1 DBE accuracy / completeness, Depth Pro
boundary F1; depthnet.evaluation.boundary_metrics), which the paper does not report.

Needs only the standard library (no TensorFlow), so it runs anywhere the metrics files are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # depthnet.evaluation.presets (standard library only) from a checkout
from depthnet.evaluation.presets import TABLE1_PROTOCOL, preset

PAPER_JSON = os.path.join(HERE, "paper_table1.json")
ROWS = ("baseline", "dfe", "dfe_afb", "full")
# Table 1 column -> key in our metrics.json
COLUMNS = (
    ("rel", "abs_rel"),
    ("rms", "rmse"),
    ("log10", "log10"),
    ("delta1", "delta1"),
    ("delta2", "delta2"),
    ("delta3", "delta3"),
)
HEADERS = ("rel", "rms", "log10", "δ<1.25", "δ<1.25²", "δ<1.25³")
# Detail (depthnet.evaluation.boundary_metrics; the paper reports none): a second table of our rows.
BOUNDARY_COLUMNS = (("dbe_acc", "DBE acc (px)"), ("dbe_comp", "DBE comp (px)"), ("boundary_f1", "boundary F1"))
MISSING = "—"


def find_metrics(path: str) -> str:
    """The metrics.json meant by `path` (a file, a folder with metrics.json, or a model_dir with eval/)."""
    candidates = [path, os.path.join(path, "metrics.json"), os.path.join(path, "eval", "metrics.json")]
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise FileNotFoundError(
        f"no metrics.json at {path!r} (looked for {', '.join(candidates[1:])}); run depthnet-eval first"
    )


def load_ours(path: str) -> dict[str, Any]:
    metrics_path = find_metrics(path)
    with open(metrics_path, encoding="utf-8") as f:
        payload = json.load(f)
    if "metrics" not in payload:
        raise ValueError(f"{metrics_path} has no 'metrics' entry; is it a depthnet-eval metrics.json?")
    metrics = payload["metrics"]
    missing = [k for _, k in COLUMNS if k not in metrics]
    if missing:
        raise ValueError(f"{metrics_path} lacks {missing}")
    protocol_text = payload.get("protocol_text") or json.dumps(payload.get("protocol", "unknown"), sort_keys=True)
    preset_name = (payload.get("preset") or {}).get("name", "none")
    return {
        "preset": preset_name,
        "table1_protocol": preset_name == TABLE1_PROTOCOL and (payload.get("preset") or {}).get("ground_truth_matches"),
        "metrics_path": os.path.abspath(metrics_path),
        "values": {c: float(metrics[k]) for c, k in COLUMNS},
        "boundary": {k: float(metrics[k]) for k, _ in BOUNDARY_COLUMNS if k in metrics} or None,
        "protocol": payload.get("protocol"),
        "protocol_text": protocol_text,
        "num_images": metrics.get("num_images"),
    }


def build_table(runs: dict[str, Optional[str]], paper_json: str = PAPER_JSON) -> tuple[str, dict[str, Any]]:
    """(markdown, JSON-able dict) for the given {row: path or None}."""
    with open(paper_json, encoding="utf-8") as f:
        paper = json.load(f)
    protocols: dict[str, str] = {}  # protocol text -> label
    rows = []
    for name in ROWS:
        ref = paper["rows"][name]
        rows.append(
            {
                "row": name,
                "label": ref["label"],
                "backbone": ref["backbone"],
                "source": "paper",
                "values": {c: ref[c] for c, _ in COLUMNS},
                "protocol": None,
            }
        )
        ours: dict[str, Any] = {
            "row": name,
            "label": ref["label"],
            "backbone": ref["backbone"],
            "source": "ours",
            "values": None,
            "protocol": None,
        }
        if runs.get(name):
            ours.update(load_ours(runs[name]))
            text = ours["protocol_text"]
            if text not in protocols:
                protocols[text] = f"P{len(protocols) + 1}"
            ours["protocol_label"] = protocols[text]
        rows.append(ours)

    lines = [
        "| method | base network | | " + " | ".join(HEADERS) + " | protocol |",
        "|---|---|---|" + "---|" * len(HEADERS) + "---|",
    ]
    for r in rows:
        if r["values"] is None:
            cells = [MISSING] * len(COLUMNS)
        else:
            cells = [f"{r['values'][c]:.3f}" for c, _ in COLUMNS]
        if r["source"] == "paper":
            proto = "paper"
        else:
            proto = f"[{r['protocol_label']}]" if r.get("protocol_label") else MISSING
        label = r["label"] if r["source"] == "paper" else ""
        backbone = r["backbone"] if r["source"] == "paper" else ""
        lines.append(f"| {label} | {backbone} | {r['source']} | " + " | ".join(cells) + f" | {proto} |")
    md = "\n".join(lines) + "\n"
    md += "\nrel, rms, log10: lower is better; δ: higher is better. Paper: Table 1, 'ours' block.\n"
    md += (
        f"\nOurs are compared under protocol '{TABLE1_PROTOCOL}', the closest to the paper's "
        f"({preset(TABLE1_PROTOCOL).source}).\n"
    )
    off = [r["row"] for r in rows if r["source"] == "ours" and r.get("values") and not r.get("table1_protocol")]
    if off:
        md += (
            f"\nNot under protocol '{TABLE1_PROTOCOL}' (or not on its ground truth), so not comparable: "
            f"{', '.join(off)}.\n"
        )
    md += _boundary_table(rows)
    if protocols:
        md += "\nProtocols of our rows:\n\n" + "".join(f"- [{label}] {text}\n" for text, label in protocols.items())
    table = {
        "rows": rows,
        "protocols": {label: text for text, label in protocols.items()},
        "paper_source": paper.get("source"),
        "compared_under": TABLE1_PROTOCOL,
    }
    return md, table


def _boundary_table(rows: list[dict[str, Any]]) -> str:
    """Our rows' depth-boundary metrics (older metrics.json files without them show "—")."""
    ours = [r for r in rows if r["source"] == "ours" and r["values"] is not None]
    if not ours:
        return ""
    lines = [
        "\nDetail (depth boundaries; lower DBE, higher F1 is better; not in the paper):\n",
        "| method | " + " | ".join(h for _, h in BOUNDARY_COLUMNS) + " | protocol |",
        "|---|" + "---|" * len(BOUNDARY_COLUMNS) + "---|",
    ]
    for r in ours:
        values = r.get("boundary") or {}
        cells = [f"{values[k]:.3f}" if k in values else MISSING for k, _ in BOUNDARY_COLUMNS]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | [{r['protocol_label']}] |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ROWS:
        parser.add_argument(f"--{name}", default=None, help=f"metrics.json / eval folder / model_dir of the {name} run")
    parser.add_argument("--paper_json", default=PAPER_JSON, help="the paper's numbers")
    parser.add_argument("--output_md", default=None, help="write the markdown table here")
    parser.add_argument("--output_json", default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)
    try:
        md, table = build_table({n: getattr(args, n) for n in ROWS}, args.paper_json)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(md)
    for path, text in ((args.output_md, md), (args.output_json, json.dumps(table, indent=2, ensure_ascii=False))):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
