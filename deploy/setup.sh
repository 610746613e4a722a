#!/usr/bin/env bash
# Installs what MnasNet.Actors needs on Debian 12 and builds it. Idempotent: installs only what is missing.
#   deploy/setup.sh           runtime needs (the default dataset, the plots' font), then a Release build
#   deploy/setup.sh --tests   also what the test suite needs (ONNX checker, PostgreSQL server, adb, openssl, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--tests" ]] && want_tests=1

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
  exit 1
fi

packages=()
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] || packages+=(dataset-fashion-mnist)
# The report's plots load this .ttf explicitly (the SkiaSharp native build in use has no fontconfig).
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || packages+=(fonts-dejavu-core)
if (( want_tests )); then
  dpkg -s python3-onnx >/dev/null 2>&1 || packages+=(python3-onnx)
  [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]] || packages+=(postgresql)
  command -v adb >/dev/null || packages+=(adb)
  command -v openssl >/dev/null || packages+=(openssl)
  [[ -x /usr/bin/chromium ]] || packages+=(chromium)   # renders report.html headless in a test
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

dotnet build MnasNet.Actors.sln -c Release -nologo -clp:ErrorsOnly
