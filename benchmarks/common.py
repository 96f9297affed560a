"""Shared by the benchmarks: where the data is, ground truth readers, matching, output."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from edge_agent.geometry import Box, iou_matrix  # noqa: E402


def need(relative: str) -> Path:
    path = DATA / relative
    if not path.exists():
        raise SystemExit(f"benchmark data missing: {path} (the ../shared folder beside the repo)")
    return path


THIRD = 1 / 3


def third_scale_vtest() -> Path:
    """vtest.avi scaled to one third (256×192, people 17–50 px), written once to /tmp (lossless)."""
    import cv2

    out = Path(tempfile.gettempdir()) / "edge-agent-bench-vtest-third.avi"
    if out.exists():
        return out
    cap = cv2.VideoCapture(str(need("pets09_s2l1_vtest/vtest.avi")))
    tmp = out.with_suffix(".part.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"FFV1"), 10, (256, 192))
    while True:
        ok, img = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(img, (256, 192), interpolation=cv2.INTER_AREA))
    writer.release()
    tmp.rename(out)
    return out


def mot_boxes(path: Path, person_only: bool = False) -> dict[int, list[Box]]:
    """MOTChallenge gt.txt → {0-based frame: [boxes]} (frame 1 of the file is index 0)."""
    out: dict[int, list[Box]] = {}
    for line in path.read_text().splitlines():
        f = line.split(",")
        if person_only and len(f) >= 8 and (f[6] != "1" or f[7] != "1"):
            continue
        x, y, w, h = (float(v) for v in f[2:6])
        out.setdefault(int(f[0]) - 1, []).append((x, y, x + w, y + h))
    return out


def mot_ids(path: Path) -> dict[int, list[tuple[int, Box]]]:
    out: dict[int, list[tuple[int, Box]]] = {}
    for line in path.read_text().splitlines():
        f = line.split(",")
        x, y, w, h = (float(v) for v in f[2:6])
        out.setdefault(int(f[0]) - 1, []).append((int(f[1]), (x, y, x + w, y + h)))
    return out


def match(
    dets: Sequence[tuple[Box, float]], gts: Sequence[Box], thr: float = 0.5
) -> list[tuple[float, bool]]:
    """Greedy by score: each detection (score, true positive?) against unmatched ground truth."""
    order = sorted(dets, key=lambda d: -d[1])
    m = iou_matrix([d[0] for d in order], list(gts))
    used: set[int] = set()
    out = []
    for i, (_, score) in enumerate(order):
        best, best_iou = -1, thr
        for j in range(len(gts)):
            if j not in used and m[i, j] >= best_iou:
                best, best_iou = j, float(m[i, j])
        if best >= 0:
            used.add(best)
        out.append((score, best >= 0))
    return out


def pr_ap(scored: list[tuple[float, bool]], n_gt: int, threshold: float) -> dict[str, float]:
    """Precision and recall at `threshold`, and AP50 (all-point interpolation) over all scores."""
    kept = [tp for s, tp in scored if s >= threshold]
    tp = sum(kept)
    precision = tp / len(kept) if kept else 0.0
    recall = tp / n_gt if n_gt else 0.0
    ranked = sorted(scored, key=lambda x: -x[0])
    tps = np.cumsum([t for _, t in ranked])
    fps = np.cumsum([not t for _, t in ranked])
    rec = tps / max(n_gt, 1)
    prec = tps / np.maximum(tps + fps, 1)
    ap, prev_r = 0.0, 0.0
    for k in range(len(ranked)):
        if ranked[k][1]:
            ap += (rec[k] - prev_r) * float(np.max(prec[k:]))
            prev_r = rec[k]
    return {"precision": round(precision, 3), "recall": round(recall, 3), "ap50": round(ap, 3)}


def timing(samples_ms: Sequence[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    return {
        "median_ms": round(statistics.median(s), 2),
        "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))], 2),
    }


def table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    for r in rows:
        lines.append(" | ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return "\n".join(lines)


def write(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return path
