"""Make the int8 model: onnxruntime static quantization of NanoDet-g's convolutions.

A maintainer's tool, not run by CI. Calibrated only on development frames (never on anything
the acceptance tests use): `vtest.avi` frames 1–200, CDnet highway, `car-detection.mp4`, as
crops and full frames, letterboxed exactly as the detector feeds the model.

    python models/quantize_int8.py --data ../shared/data --size 320 --out models/nanodet-g-int8.onnx

Only Conv is quantized (per-channel 7-bit weights, uint8 activations, QDQ format): quantizing
every operator (the sigmoid/softmax heads included) destroys the scores. Made with onnx 1.23.2 and
onnxruntime 1.32.0 (`pip install onnx==1.23.2 onnxruntime==1.32.0 opencv-python-headless==4.11.0.86
'numpy<2' pydantic-settings paho-mqtt`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge_agent.detection.nanodet import letterbox

HERE = Path(__file__).resolve().parent


def video_frames(path: Path, every: int, limit: int) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    i = n = 0
    while n < limit:
        ok, img = cap.read()
        if not ok:
            break
        if i % every == 0:
            n += 1
            yield img
        i += 1
    cap.release()


def highway_frames(zip_path: Path, every: int, limit: int) -> Iterator[np.ndarray]:
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if "/input/in" in n and n.endswith(".jpg"))
        for name in names[::every][:limit]:
            yield cv2.imdecode(np.frombuffer(z.read(name), np.uint8), cv2.IMREAD_COLOR)


def calibration_images(data: Path) -> list[np.ndarray]:
    images: list[np.ndarray] = []
    images += list(video_frames(data / "pets09_s2l1_vtest/vtest.avi", 5, 40))  # frames 1..200
    images += list(highway_frames(data / "cdnet_highway/highway_cdnet_in0001-1700_gt0001-1000.zip", 40, 30))
    images += list(video_frames(data / "intel_car_detection/car-detection.mp4", 10, 30))
    rng = np.random.default_rng(0)
    crops = []
    for img in images[:60]:  # square crops like the detector's, as well as whole frames
        h, w = img.shape[:2]
        side = int(rng.integers(min(h, w) // 2, min(h, w)))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crops.append(img[y : y + side, x : x + side])
    return images + crops


class Reader(CalibrationDataReader):
    def __init__(self, images: list[np.ndarray], size: int, name: str) -> None:
        self._it = iter([{name: letterbox(img, size)[0]} for img in images])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the ../shared/data folder")
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--model", type=Path, default=HERE / "nanodet-g.onnx")
    p.add_argument("--out", type=Path, default=HERE / "nanodet-g-int8.onnx")
    args = p.parse_args()
    images = calibration_images(args.data)
    print(f"calibrating on {len(images)} development images at {args.size}")
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(args.model), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(args.out),
            Reader(images, args.size, "images"),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            # 7-bit weights: AVX2's u8s8 kernel (vpmaddubsw) sums pairs of products in 16 bits and
            # saturates with 8-bit weights; with 7 bits it cannot, so AVX2, AVX-512 VNNI and ARM
            # compute the same integers and give the same scores (docs/detection.md).
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.99},
        )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
