"""How far the model's scores move between CPUs' kernels, int8 and fp32, optimisations on and off.

    python benchmarks/kernels.py dump NAME [--model int8|fp32|PATH] [--opt all|off] [--frames 200]
    python benchmarks/kernels.py compare A B [C ...]     # NAMEs of earlier dumps

`dump` runs NanoDet-g at 416 on whole frames, `vtest.avi` frames 1–200 and the LLVIP night
pictures (visible, grey, thermal), and keeps every output cell's score for each of the six
labels that is 0.05 or more: a candidate box, known by (picture, stride, cell, label), so two
dumps compare box by box without matching boxes. It records the CPU's int8 instruction sets
(AVX2, AVX-512 VNNI, NEON dot product; under qemu-user, `--cpu` says it), the onnxruntime and
numpy versions, and writes benchmarks/results/kernels-NAME.json. Run it natively, under
`qemu-x86_64-static -cpu Haswell` (an AVX2-only x86) and on an arm64 machine or emulator, then
`compare`: per pair, the score differences of the candidates that reach 0.2 on either side
(median, p95, p99, max), and how many candidates lie on different sides of each threshold the
pipeline uses. Prints a table, writes benchmarks/results/kernels-compare.json. The figures are
in docs/detection.md.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from common import RESULTS, need, table, write

from edge_agent.config.vision import DEFAULT_LABELS
from edge_agent.detection.detector import models_dir, read_labels
from edge_agent.detection.nanodet import STRIDES, letterbox

SIZE = 416
FLOOR = 0.05
COMPARE_FLOOR = 0.2
# the thresholds the pipeline decides on (config defaults): vehicles still-threshold, night least
# score, day least score, the still-threshold for people
THRESHOLDS = {"label_still 0.22": 0.22, "night_min 0.30": 0.30, "min_score 0.45": 0.45, "still 0.55": 0.55}
LLVIP = ("010005", "200002", "200003", "200004", "200005", "200006", "200007")


def cpu_features() -> dict[str, object]:
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags |= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "machine": platform.machine(),
        "avx2": "avx2" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx_vnni": "avx_vnni" in flags,
        "asimddp": "asimddp" in flags,
    }


def pictures(frames: int) -> list[tuple[str, np.ndarray]]:
    out = []
    cap = cv2.VideoCapture(str(need("pets09_s2l1_vtest/vtest.avi")))
    for i in range(frames):
        ok, img = cap.read()
        if not ok:
            break
        out.append((f"vtest-{i + 1:04d}", img))
    cap.release()
    for stem in LLVIP:
        visible = cv2.imread(str(need(f"llvip_sample/visible/{stem}.jpg")))
        grey = cv2.cvtColor(cv2.cvtColor(visible, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        out += [(f"llvip-visible-{stem}", visible), (f"llvip-grey-{stem}", grey)]
        out.append((f"llvip-thermal-{stem}", cv2.imread(str(need(f"llvip_sample/infrared/{stem}.jpg")))))
    return out


def session(model: str, opt: str) -> tuple[ort.InferenceSession, str]:
    path = (
        Path(model)
        if model not in ("int8", "fp32")
        else models_dir() / ("nanodet-g-int8.onnx" if model == "int8" else "nanodet-g.onnx")
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    if opt == "off":
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]), path.name


def dump(name: str, model: str, opt: str, frames: int, cpu: str | None) -> None:
    sess, model_name = session(model, opt)
    labels = read_labels(models_dir())
    ids = np.array([labels.index(lb) for lb in DEFAULT_LABELS])
    outputs = [o.name for o in sess.get_outputs()]
    cells: dict[str, float] = {}
    for pic, img in pictures(frames):
        blob, _ = letterbox(img, SIZE)
        got = dict(zip(outputs, sess.run(outputs, {sess.get_inputs()[0].name: blob}), strict=True))
        for s in STRIDES:
            cls = got[f"cls_s{s}"][0][:, ids]
            for cell, k in zip(*np.nonzero(cls >= FLOOR), strict=True):
                cells[f"{pic}/{s}/{cell}/{DEFAULT_LABELS[k]}"] = round(float(cls[cell, k]), 5)
    data = {
        "name": name,
        "model": model_name,
        "opt": opt,
        "cpu": {**cpu_features(), **({"note": cpu} if cpu else {})},
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "cells": cells,
    }
    path = write(f"kernels-{name}", data)
    print(f"{name}: {len(cells)} candidate cells ({model_name}, opt {opt}, {data['cpu']}) -> {path}")


def compare(names: list[str]) -> None:
    dumps = [json.loads((RESULTS / f"kernels-{n}.json").read_text()) for n in names]
    rows = []
    for i, a in enumerate(dumps):
        for b in dumps[i + 1 :]:
            keys = {k for k, v in a["cells"].items() if v >= COMPARE_FLOOR}
            keys |= {k for k, v in b["cells"].items() if v >= COMPARE_FLOOR}
            pa = np.array([a["cells"].get(k, 0.0) for k in sorted(keys)])
            pb = np.array([b["cells"].get(k, 0.0) for k in sorted(keys)])
            d = np.abs(pa - pb)
            row: dict[str, object] = {
                "pair": f"{a['name']} vs {b['name']}",
                "boxes": len(keys),
                "median": round(float(np.median(d)), 4) if len(d) else 0,
                "p95": round(float(np.percentile(d, 95)), 4) if len(d) else 0,
                "p99": round(float(np.percentile(d, 99)), 4) if len(d) else 0,
                "max": round(float(d.max()), 4) if len(d) else 0,
            }
            for label, t in THRESHOLDS.items():
                row[label] = int(np.sum((pa >= t) != (pb >= t)))
            rows.append(row)
    print(table(rows, ["pair", "boxes", "median", "p95", "p99", "max", *THRESHOLDS]))
    print(
        f"boxes: output cells whose best score reaches {COMPARE_FLOOR} on either side; median..max: |score"
        " difference|; threshold columns: boxes on different sides of it"
    )
    about = {d["name"]: {k: d[k] for k in d if k != "cells"} for d in dumps}
    write("kernels-compare", {"rows": rows, "dumps": about})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("name")
    d.add_argument("--model", default="int8", help="int8, fp32 or a path to an ONNX file")
    d.add_argument("--opt", choices=["all", "off"], default="all", help="onnxruntime graph optimisations")
    d.add_argument("--frames", type=int, default=200)
    d.add_argument("--cpu", help="what the CPU is, when /proc/cpuinfo cannot tell (under qemu-user)")
    c = sub.add_parser("compare")
    c.add_argument("names", nargs="+")
    args = p.parse_args()
    if args.cmd == "dump":
        dump(args.name, args.model, args.opt, args.frames, args.cpu)
    else:
        compare(args.names)


if __name__ == "__main__":
    main()
