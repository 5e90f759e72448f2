# Shared paths for the project's scripts (sourced, not run).
# LIVENESS_CACHE holds what set-up installs outside the checkout (the Python tools).
LIVENESS_CACHE="${LIVENESS_CACHE:-$HOME/.cache/liveness}"
VENV="$LIVENESS_CACHE/venv"
