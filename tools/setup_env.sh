#!/usr/bin/env bash
# One-command setup of mmreviewkd on a fresh CPU machine.
#
#   bash tools/setup_env.sh            # venv at .venv/, full OpenMMLab stack, mmreviewkd (editable), data/
#
# What it does (each step is skipped when already done, so a second run takes seconds):
#   1. creates the project virtual environment at .venv/ (ignored by git);
#   2. installs torch 2.14.1 / torchvision 0.29.1 and mmengine;
#   3. builds the mmcv 2.1.0 wheel with compiled ops ONCE into a cache outside the repository
#      ($MMREVIEWKD_CACHE, default ~/.cache/mmreviewkd) and reuses it afterwards;
#   4. installs mmpretrain, mmdet, mmrazor and the undeclared extras (joblib, pycocotools, ...);
#   5. installs mmreviewkd in editable mode (which also creates mmreviewkd/.mim for `mim`);
#   6. puts Fashion-MNIST under data/fashion_mnist/ (Debian's dataset-fashion-mnist package, else
#      MMPretrain's own download on first use).
#
# Environment knobs:
#   PYTHON=python3.11         interpreter used to create the venv
#   MMREVIEWKD_CACHE=DIR      where the mmcv wheel is cached (default ~/.cache/mmreviewkd)
#   MMREVIEWKD_SKIP_DATA=1    do not touch data/
#   MAX_JOBS=N                parallel compile jobs for mmcv (default: nproc)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
CACHE="${MMREVIEWKD_CACHE:-$HOME/.cache/mmreviewkd}"
WHEELS="$CACHE/wheels"
TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
MMCV_VERSION="2.1.0"
# torch 2.14 requires setuptools>=77.0.3; mmcv's setup.py and MMEngine's `mmpretrain::` base-config
# lookup need pkg_resources, removed in setuptools 81. Every pip call carries this pin so that no
# dependency resolution upgrades setuptools past it.
SETUPTOOLS_PIN="setuptools>=77.0.3,<81"
STAMP="$VENV/.mmreviewkd_stack"

say() { printf '\033[1m[setup %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*"; }

# A fingerprint of everything that decides the installed stack: when it is unchanged and the
# stack imports, the heavy steps are skipped.
fingerprint() {
    cat "$ROOT/requirements/"*.txt "$ROOT/tools/setup_env.sh" | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------------------------------------
# 1. virtual environment
if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment at .venv/ with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

stack_ok() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] && \
    "$PY" - <<'EOF' >/dev/null 2>&1
import torch, mmengine, mmcv, mmpretrain, mmdet, joblib, pycocotools  # noqa
from mmcv.ops import nms, RoIAlign  # noqa
assert mmcv.__version__ == '2.1.0'
EOF
}

if stack_ok; then
    say "OpenMMLab stack already installed in .venv/ (fingerprint matches) - skipping"
else
    say "upgrading pip and the build tools (setuptools<81: mmcv and MMEngine need pkg_resources)"
    "${PIP[@]}" install -q --upgrade pip
    "${PIP[@]}" install -q -r requirements/build.txt "$SETUPTOOLS_PIN"

    # -----------------------------------------------------------------------------------------
    # 2. torch and mmengine
    say "installing $TORCH_SPEC (taken from local disk on this machine kind; large)"
    "${PIP[@]}" install -q $TORCH_SPEC "$SETUPTOOLS_PIN"
    say "installing mmengine"
    "${PIP[@]}" install -q 'mmengine>=0.10.7,<0.11.0' joblib pycocotools matplotlib "$SETUPTOOLS_PIN"

    # -----------------------------------------------------------------------------------------
    # 3. mmcv 2.1.0 with ops, built once and cached outside the repository
    mkdir -p "$WHEELS"
    PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    TORCHVER="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
    # The wheel's ABI depends on the torch it was compiled against: keep one wheel per torch.
    WHEEL_DIR="$WHEELS/torch-$TORCHVER"
    WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$WHEEL" ]; then
        say "no cached mmcv $MMCV_VERSION wheel for $PYTAG/torch $TORCHVER in $WHEEL_DIR"
        say "BUILDING mmcv $MMCV_VERSION with ops from source: this takes 10-20 minutes on 2 cores."
        say "(it happens once per machine; the wheel is then reused from $WHEEL_DIR)"
        BUILD="$(mktemp -d)"
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
            "mmcv==$MMCV_VERSION" -d "$BUILD"
        tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
        SRC="$BUILD/mmcv-$MMCV_VERSION"
        # mmcv 2.1.0's setup.py forces -std=c++14/17; torch >= 2.10 headers need C++20.
        sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
        grep -q 'c++20' "$SRC/setup.py" || { echo "could not patch the C++ standard in mmcv's setup.py" >&2; exit 1; }
        LOG="$CACHE/mmcv-build.log"
        say "compiling (log: $LOG); progress every 30 s:"
        (
            cd "$SRC"
            MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
                "${PIP[@]}" wheel -v --no-deps --no-build-isolation . -w "$BUILD/dist"
        ) > "$LOG" 2>&1 &
        BUILD_PID=$!
        while kill -0 "$BUILD_PID" 2>/dev/null; do
            sleep 30
            printf '  %s  compiled %s\n' "$(date +%H:%M:%S)" "$(grep -o '\[[0-9]*/[0-9]*\]' "$LOG" | tail -n1)"
        done
        if ! wait "$BUILD_PID"; then
            tail -n 40 "$LOG" >&2
            say "mmcv build FAILED - see $LOG"
            exit 1
        fi
        mkdir -p "$WHEEL_DIR"
        cp "$BUILD"/dist/mmcv-*.whl "$WHEEL_DIR/"
        rm -rf "$BUILD"
        WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl | head -n1)"
        say "mmcv wheel cached: $WHEEL"
    else
        say "reusing the cached mmcv wheel $WHEEL"
    fi
    "${PIP[@]}" install -q --no-deps "$WHEEL"
    # mmcv's own runtime dependencies (installed --no-deps above).
    "${PIP[@]}" install -q addict numpy packaging Pillow pyyaml yapf opencv-python "$SETUPTOOLS_PIN"

    # -----------------------------------------------------------------------------------------
    # 4. the downstream OpenMMLab packages
    say "installing mmpretrain, mmdet, mmrazor and the test tools"
    "${PIP[@]}" install -q -r requirements/mminstall.txt -r requirements/runtime.txt \
        -r requirements/tests.txt openmim $TORCH_SPEC "$SETUPTOOLS_PIN"
    fingerprint > "$STAMP"
fi

# ---------------------------------------------------------------------------------------------
# 5. mmreviewkd itself (editable); cheap, so always refreshed
say "installing mmreviewkd in editable mode"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

# ---------------------------------------------------------------------------------------------
# 6. Fashion-MNIST under data/
if [ "${MMREVIEWKD_SKIP_DATA:-0}" != "1" ]; then
    DATA="$ROOT/data/fashion_mnist"
    DEB_DIR=/usr/share/datasets/fashion-mnist
    if [ -f "$DATA/train-images-idx3-ubyte" ] && [ -f "$DATA/t10k-labels-idx1-ubyte" ]; then
        say "Fashion-MNIST already in data/fashion_mnist/"
    else
        if [ ! -d "$DEB_DIR" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            say "installing Debian's dataset-fashion-mnist package"
            (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
             (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) || true
        fi
        mkdir -p "$DATA"
        if [ -d "$DEB_DIR" ]; then
            say "copying Fashion-MNIST from $DEB_DIR to data/fashion_mnist/"
            for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
                gunzip -c "$DEB_DIR/$f.gz" > "$DATA/$f"
            done
        else
            say "Debian's dataset-fashion-mnist is not available: MMPretrain's FashionMNIST will" \
                "download it into data/fashion_mnist/ on first use (needs internet)"
        fi
    fi
fi

# ---------------------------------------------------------------------------------------------
# 7. the embedded detection data (generated from Fashion-MNIST, COCO format)
if [ "${MMREVIEWKD_SKIP_DATA:-0}" != "1" ] && [ -f "$ROOT/data/fashion_mnist/train-images-idx3-ubyte" ]; then
    if [ -f "$ROOT/data/fmnist_coco/annotations/instances_val.json" ]; then
        say "generated detection data already in data/fmnist_coco/"
    else
        say "generating the Fashion-MNIST COCO detection data into data/fmnist_coco/"
        "$PY" "$ROOT/tools/dataset_converters/make_fmnist_coco.py" --src "$ROOT/data/fashion_mnist" \
            --out "$ROOT/data/fmnist_coco"
    fi
fi

say "checking the installation"
"$PY" -c "import mmreviewkd, mmrazor.models, mmdet.models, mmpretrain.models; from mmcv.ops import nms, RoIAlign; print('mmreviewkd', mmreviewkd.__version__, 'ready')"
say "done. Activate with: source .venv/bin/activate"
