#!/usr/bin/env bash
# One-command setup of mmreviewkd on a fresh CPU machine.
#
#   bash tools/setup_env.sh              # classification stack, no compiler: ~2-3 min on a fresh machine
#   bash tools/setup_env.sh --with-ops   # + mmcv's compiled ops (MMDetection): built once per machine
#
# Two stacks, one venv (.venv/, ignored by git):
#   default      mmcv-lite 2.1.0 (mmcv without compiled ops, a pure-Python wheel). Everything on the
#                classification path works: MMPretrain models, MMRazor algorithms, ReviewKD, TSKD,
#                the main job. MMDetection models need the ops and say so (mmreviewkd.utils.mmcv_ops).
#   --with-ops   mmcv 2.1.0 with ops, compiled ONCE from source into a cache outside the repository
#                ($MMREVIEWKD_CACHE, default ~/.cache/mmreviewkd; 10-20 minutes on 2 cores) and
#                reused afterwards. Needed for detection and for the full test suite.
# Switching is safe and idempotent: the other mmcv distribution is uninstalled before the wanted one
# is installed, and the stack is marked ready only after both steps succeeded (an interrupted run
# redoes them). A plain run after --with-ops keeps the ops (a superset of the lite stack).
#
# What it does (each step is skipped when already done, so a second run takes seconds):
#   1. creates the project virtual environment at .venv/;
#   2. installs torch 2.14.1 / torchvision 0.29.1, mmengine, mmpretrain, mmdet, mmrazor and the
#      undeclared extras (joblib, pycocotools, ...);
#   3. installs mmcv-lite, or (--with-ops) mmcv with compiled ops from the cached wheel;
#   4. installs mmreviewkd in development mode, visible to `mim` (also creates mmreviewkd/.mim);
#   5. puts Fashion-MNIST under data/fashion_mnist/ (Debian's dataset-fashion-mnist package, else
#      MMPretrain's own download on first use) and generates the COCO-format detection data.
#
# Environment knobs:
#   MMREVIEWKD_WITH_OPS=1     same as --with-ops
#   PYTHON=python3.11         interpreter used to create the venv
#   MMREVIEWKD_CACHE=DIR      where the mmcv wheel is cached (default ~/.cache/mmreviewkd)
#   MMREVIEWKD_SKIP_DATA=1    do not touch data/
#   MAX_JOBS=N                parallel compile jobs for mmcv (default: nproc)
set -euo pipefail

WITH_OPS="${MMREVIEWKD_WITH_OPS:-0}"
for arg in "$@"; do
    case "$arg" in
        --with-ops) WITH_OPS=1 ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "tools/setup_env.sh: unknown option '$arg' (known: --with-ops, --help)" >&2; exit 2 ;;
    esac
done

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
STAMP="$VENV/.mmreviewkd_stack"       # fingerprint of the stack without mmcv
MMCV_STAMP="$VENV/.mmreviewkd_mmcv"   # 'lite' or 'ops': the mmcv distribution installed
START=$(date +%s)

say() { printf '\033[1m[setup %s +%ss]\033[0m %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - START ))" "$*"; }

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
# pip, without the machine-wide index's warnings about absent local mirror folders
pip_() {
    "$PY" -m pip --disable-pip-version-check "$@" 2>&1 | \
        { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}
PIP=(pip_)

stack_ok() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] && \
        "$PY" -c "import torch, mmengine, mmpretrain, mmrazor, mmdet, joblib, pycocotools, onnx, onnxruntime, onnxscript" \
        >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# 2. torch, MMEngine and the OpenMMLab packages (none of them declares mmcv as a pip dependency)
if stack_ok; then
    say "OpenMMLab stack already installed in .venv/ (fingerprint matches) - skipping"
else
    rm -f "$STAMP"
    say "upgrading pip and the build tools (setuptools<81: mmcv and MMEngine need pkg_resources)"
    "${PIP[@]}" install -q --upgrade pip
    "${PIP[@]}" install -q -r requirements/build.txt "$SETUPTOOLS_PIN"
    say "installing $TORCH_SPEC (taken from local disk on this machine kind; large)"
    "${PIP[@]}" install -q $TORCH_SPEC "$SETUPTOOLS_PIN"
    say "installing mmengine, mmpretrain, mmdet, mmrazor, the test tools and ONNX (deployment)"
    # mmcv is installed in step 3 (lite or with ops); every other line of mminstall.txt here.
    MMREQ="$(mktemp)"
    grep -v '^mmcv' requirements/mminstall.txt > "$MMREQ"
    "${PIP[@]}" install -q -r "$MMREQ" -r requirements/runtime.txt -r requirements/tests.txt \
        -r requirements/deploy.txt openmim $TORCH_SPEC "$SETUPTOOLS_PIN"
    # mmcv's own runtime dependencies (mmcv is installed --no-deps in step 3).
    "${PIP[@]}" install -q addict numpy packaging Pillow pyyaml yapf opencv-python "$SETUPTOOLS_PIN"
    rm -f "$MMREQ"
    fingerprint > "$STAMP"
fi

# ---------------------------------------------------------------------------------------------
# 3. mmcv: lite (no compiler) by default, with compiled ops on request
mmcv_has_ops() {
    "$PY" -c "import mmcv; from mmcv.ops import nms, RoIAlign; assert mmcv.__version__ == '$MMCV_VERSION'" \
        >/dev/null 2>&1
}
mmcv_lite_ok() {
    "$PY" -c "import mmcv, mmcv.transforms; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1
}
INSTALLED="$(cat "$MMCV_STAMP" 2>/dev/null || echo none)"
if [ "$INSTALLED" = "none" ] && mmcv_has_ops; then
    INSTALLED=ops  # installed by an earlier version of this script (always with ops)
    echo ops > "$MMCV_STAMP"
fi

# install_mmcv lite|ops WHEEL_OR_SPEC: swap the mmcv distribution. Both distributions write the
# same `mmcv/` package, so the other one is uninstalled first; the stamp is written only after
# the install succeeded, so an interrupted swap is redone by the next run.
install_mmcv() {
    rm -f "$MMCV_STAMP"
    "${PIP[@]}" uninstall -q -y mmcv mmcv-lite >/dev/null 2>&1 || true
    "${PIP[@]}" install -q --no-deps "$2"
    echo "$1" > "$MMCV_STAMP"
}

if [ "$WITH_OPS" = "1" ]; then
    if [ "$INSTALLED" = "ops" ] && mmcv_has_ops; then
        say "mmcv $MMCV_VERSION with compiled ops already installed - skipping"
    else
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
            # copy under a temporary name, then rename: the cache never holds a partial wheel
            mkdir -p "$WHEEL_DIR"
            for w in "$BUILD"/dist/mmcv-*.whl; do
                cp "$w" "$WHEEL_DIR/.partial"
                mv "$WHEEL_DIR/.partial" "$WHEEL_DIR/$(basename "$w")"
            done
            rm -rf "$BUILD"
            WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-"$PYTAG"-*.whl | head -n1)"
            say "mmcv wheel cached: $WHEEL"
        else
            say "reusing the cached mmcv wheel $WHEEL"
        fi
        say "installing mmcv $MMCV_VERSION with compiled ops (replaces mmcv-lite if present)"
        install_mmcv ops "$WHEEL"
    fi
else
    if [ "$INSTALLED" = "ops" ] && mmcv_has_ops; then
        say "mmcv $MMCV_VERSION with compiled ops is installed (detection available) - keeping it"
    elif [ "$INSTALLED" = "lite" ] && mmcv_lite_ok; then
        say "mmcv-lite $MMCV_VERSION already installed - skipping (for detection: --with-ops)"
    else
        say "installing mmcv-lite $MMCV_VERSION: no compiler, the classification path" \
            "(for detection rerun with --with-ops)"
        install_mmcv lite "mmcv-lite==$MMCV_VERSION"
    fi
fi

# ---------------------------------------------------------------------------------------------
# 4. mmreviewkd itself (editable); cheap, so always refreshed.
# A development install `mim` can see: mim 0.3 looks for the package at <location of its install
# metadata>/mmreviewkd, which a PEP 660 editable install (`pip install -e`) puts in site-packages
# where no package folder exists; a legacy `setup.py develop` install points it at the working
# tree. setuptools >= 80 dropped that mode, so it runs with setuptools 79 from a side folder
# (.venv keeps its own setuptools pin).
say "installing mmreviewkd in development mode (visible to mim)"
ST_LEGACY="$CACHE/setuptools-79.0.1"
editable_fallback() {
    say "a development install mim can see failed; pip install -e instead (mim will not see it)"
    "${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
}
if [ -f "$ST_LEGACY/setuptools/__init__.py" ] || \
        "${PIP[@]}" install -q --no-deps --target "$ST_LEGACY" "setuptools==79.0.1"; then
    "${PIP[@]}" uninstall -q -y mmreviewkd >/dev/null 2>&1 || true  # a PEP 660 install would shadow it
    (cd "$ROOT" && PYTHONPATH="$ST_LEGACY" "$PY" setup.py -q develop --no-deps >/dev/null 2>&1) || \
        editable_fallback
else
    editable_fallback
fi

# ---------------------------------------------------------------------------------------------
# 5. Fashion-MNIST under data/
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
# 6. the embedded detection data (generated from Fashion-MNIST, COCO format)
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
"$PY" -c "import mmreviewkd, mmrazor.models, mmpretrain.models; print('mmreviewkd', mmreviewkd.__version__, 'ready for classification')"
if mmcv_has_ops; then
    "$PY" -c "import mmdet.models; print('mmcv ops present: detection ready')"
else
    say "mmcv-lite: detection (MMDetection models) needs 'bash tools/setup_env.sh --with-ops'"
fi
say "done. Activate with: source .venv/bin/activate"
