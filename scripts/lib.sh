# Shared paths for the project's scripts (sourced, not run).
# LIVENESS_CACHE holds what set-up installs outside the checkout (the Python tools).
LIVENESS_CACHE="${LIVENESS_CACHE:-$HOME/.cache/liveness}"
VENV="$LIVENESS_CACHE/venv"

# The onnxruntime library inside the PyPI wheel installed in $VENV (for the tract/ORT
# comparison and benchmarks), exported as ORT_DYLIB_PATH.
export_ort_dylib_path() {
  ORT_DYLIB_PATH=$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
  export ORT_DYLIB_PATH
}
