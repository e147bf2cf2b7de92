#!/usr/bin/env bash
# Builds the cairn firmware for Cortex-M0 (thumbv6m-none-eabi) and
# Cortex-M4 (thumbv7em-none-eabihf), each with the store and as the baseline
# without it, runs all four under QEMU, and prints code size, RAM and stack.
#
# Fails if a build fails, if a firmware exits non-zero (a failed check, a
# panic, a hard fault) or does not print PASS, or if a run takes longer
# than 120 seconds.
#
# Usage: firmware/ci.sh   (from anywhere; installs what it needs)
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
# The firmware has its own target directory, whatever the caller uses.
export CARGO_TARGET_DIR="$PWD/target"

fail() {
  printf '\nFIRMWARE CI FAILED: %s\n' "$*" >&2
  exit 1
}
step() { printf '\n=== firmware: %s ===\n' "$*"; }

step "tools"
need=()
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null || need+=(binutils-arm-none-eabi)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup target add thumbv6m-none-eabi thumbv7em-none-eabihf >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1 || true
qemu-system-arm --version | head -n 1
arm-none-eabi-size --version | head -n 1

step "format and clippy"
cargo fmt --check
for target in thumbv7em-none-eabihf thumbv6m-none-eabi; do
  cargo clippy --release --locked --target "$target" -- -D warnings
  cargo clippy --release --locked --target "$target" --no-default-features \
    --target-dir "$CARGO_TARGET_DIR/baseline" -- -D warnings
done

# variant  target  qemu machine  cargo arguments  elf
variants=(
  "M4-store    thumbv7em-none-eabihf mps2-an386 store"
  "M4-baseline thumbv7em-none-eabihf mps2-an386 baseline"
  "M0-store    thumbv6m-none-eabi    mps2-an385 store"
  "M0-baseline thumbv6m-none-eabi    mps2-an385 baseline"
)

elf_of() { # target kind
  if [ "$2" = store ]; then
    echo "$CARGO_TARGET_DIR/$1/release/cairn-firmware"
  else
    echo "$CARGO_TARGET_DIR/baseline/$1/release/cairn-firmware"
  fi
}

step "build (release)"
for v in "${variants[@]}"; do
  read -r name target machine kind <<<"$v"
  if [ "$kind" = store ]; then
    cargo build --release --locked --target "$target" || fail "build of $name"
  else
    cargo build --release --locked --target "$target" --no-default-features \
      --target-dir "$CARGO_TARGET_DIR/baseline" || fail "build of $name"
  fi
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

for v in "${variants[@]}"; do
  read -r name target machine kind <<<"$v"
  elf=$(elf_of "$target" "$kind")
  step "run $name on qemu-system-arm -machine $machine"
  set +e
  timeout 120 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    </dev/null 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -ne 124 ] || fail "$name timed out after 120 s"
  [ "$rc" -eq 0 ] || fail "$name exited with status $rc"
  grep -qx 'PASS' "$logs/$name.log" || fail "$name exited 0 but did not print PASS"
done

# Sizes from the section table: text = vector table + code + read-only
# data (what goes into flash, with .data's initial values); data = .data;
# bss = .bss + .uninit (the store's memory is a static buffer, so it is in
# bss). The
# emulated NOR flash (.nor) stands for a separate chip and is left out.
section() { # elf name
  arm-none-eabi-size -A "$1" | awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'
}
field() { # log key
  sed -n 's/^report .*\b'"$2"'=\([0-9]*\).*/\1/p' "$1"
}

step "sizes (bytes)"
printf '%-12s %-22s %8s %6s %7s %12s %12s %12s %12s\n' \
  variant target text data bss stack_peak stack_avail store_memory store_handle
declare -A text_of
for v in "${variants[@]}"; do
  read -r name target machine kind <<<"$v"
  elf=$(elf_of "$target" "$kind")
  text=$(($(section "$elf" .vector_table) + $(section "$elf" .text) + $(section "$elf" .rodata)))
  data=$(section "$elf" .data)
  bss=$(($(section "$elf" .bss) + $(section "$elf" .uninit)))
  text_of[$name]=$((text + data))
  log="$logs/$name.log"
  printf '%-12s %-22s %8d %6d %7d %12s %12s %12s %12s\n' "$name" "$target" \
    "$text" "$data" "$bss" "$(field "$log" stack_peak)" "$(field "$log" stack_size)" \
    "$(field "$log" store_memory)" "$(field "$log" store_handle)"
done
echo
for cpu in M4 M0; do
  store=${text_of[$cpu-store]}
  base=${text_of[$cpu-baseline]}
  echo "$cpu: the store costs $((store - base)) bytes of flash (text+data: $store with it, $base without)"
done

step "all firmware runs passed"
