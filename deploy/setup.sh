#!/usr/bin/env bash
# Installs what MnasNet.Actors needs on Debian 12 and builds it. Idempotent: installs only what is missing.
#   deploy/setup.sh           runtime needs (the default dataset, the plots' font), then a Release build
#   deploy/setup.sh --tests   also what the test suite needs (ONNX checker, PostgreSQL server, adb, openssl, chromium,
#                             and PyTorch: a test runs `bench train --compare`)
#   deploy/setup.sh --bench   also PyTorch for `mnasnet bench train --compare` (a benchmark-only dependency)
# Both install the TensorFlow Lite 2.9 C library (tflite backend) into .native/tflite/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
want_bench=0
for arg in "$@"; do
  [[ "$arg" == "--tests" ]] && want_tests=1
  [[ "$arg" == "--bench" ]] && want_bench=1
done

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
  exit 1
fi

packages=()
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] || packages+=(dataset-fashion-mnist)
# The report's plots load this .ttf explicitly (the SkiaSharp native build in use has no fontconfig).
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || packages+=(fonts-dejavu-core)
# npm fetches the TensorFlow Lite C library once (below).
[[ -f .native/tflite/libtensorflowlite_c.so ]] || command -v npm >/dev/null || packages+=(npm)
if (( want_tests )); then
  dpkg -s python3-onnx >/dev/null 2>&1 || packages+=(python3-onnx)
  [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]] || packages+=(postgresql)
  command -v adb >/dev/null || packages+=(adb)
  command -v openssl >/dev/null || packages+=(openssl)
  [[ -x /usr/bin/chromium ]] || packages+=(chromium)   # renders report.html headless in a test
fi

if (( want_bench || want_tests )); then
  # Debian's PyTorch 1.13 for /usr/bin/python3, the reference of `mnasnet bench train --compare`.
  dpkg -s python3-torch >/dev/null 2>&1 || packages+=(python3-torch)
  if (( want_bench )); then
    dpkg -s python3-torchvision >/dev/null 2>&1 || packages+=(python3-torchvision)
  fi
fi

if (( ${#packages[@]} )); then
  if command -v apt-get >/dev/null; then
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    echo "installing: ${packages[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "error: missing ${packages[*]} and this is not a Debian system." >&2
    echo "  Fashion-MNIST: download the four IDX .gz files into a folder and pass --data fashion-mnist:DIR." >&2
    exit 1
  fi
fi

# TensorFlow Lite 2.9.0 C library for the tflite backend: no TFLite runtime is packaged for Debian or NuGet; the
# npm package tfjs-tflite-node 0.0.2 (Apache-2.0) ships the prebuilt library. `npm pack` only downloads the tarball
# (npm install would compile a node addon). The backend finds it here (or via MNASNET_TFLITE_LIB).
tflite_dir=.native/tflite
tflite_sha256=dc89b4cd86d956516570bd483668e6dd98907f49901d0567dedc69a29a56b7f7
if ! echo "$tflite_sha256  $tflite_dir/libtensorflowlite_c.so" | sha256sum --check --status 2>/dev/null; then
  if ! command -v npm >/dev/null; then
    echo "error: npm is needed once to download the TensorFlow Lite C library (apt-get install -y npm)" >&2
    exit 1
  fi
  echo "installing: TensorFlow Lite 2.9.0 C library (npm tfjs-tflite-node@0.0.2) into $tflite_dir"
  tflite_tmp=$(mktemp -d)
  (cd "$tflite_tmp" && npm pack --silent tfjs-tflite-node@0.0.2 >/dev/null \
    && tar xzf tfjs-tflite-node-0.0.2.tgz package/cc_deps/linux_amd64/libtensorflowlite_c.so)
  if ! echo "$tflite_sha256  $tflite_tmp/package/cc_deps/linux_amd64/libtensorflowlite_c.so" | sha256sum --check --status; then
    echo "error: the downloaded libtensorflowlite_c.so does not have the expected SHA-256 $tflite_sha256" >&2
    rm -rf "$tflite_tmp"
    exit 1
  fi
  mkdir -p "$tflite_dir"
  cp "$tflite_tmp/package/cc_deps/linux_amd64/libtensorflowlite_c.so" "$tflite_dir/"
  rm -rf "$tflite_tmp"
fi

dotnet build MnasNet.Actors.sln -c Release -nologo -clp:ErrorsOnly
