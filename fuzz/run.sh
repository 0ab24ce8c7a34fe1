#!/usr/bin/env bash
# Fuzzes one harness of fuzz/Eurus.Cpu.Fuzz under AFL++ with SharpFuzz, then prints the run's figures.
#
#   fuzz/run.sh HARNESS SECONDS [afl-fuzz options...]
#
# HARNESS: gguf, safetensors, sentencepiece, server-request. Installs what is missing (afl++ from apt when root, the
# SharpFuzz.CommandLine tool under fuzz/.work/tools), publishes the fuzz app, instruments Eurus.Cpu.dll (and
# eurus-server.dll for server-request) in a copy of the publish output, and runs afl-fuzz at nice 19 on
# fuzz/corpus/HARNESS plus fuzz/regressions/HARNESS. Findings go to fuzz/.work/findings/HARNESS-DATE (printed).
# Environment: FUZZ_TIMEOUT_MS (per input, default 5000), FUZZ_OUT (findings folder), FUZZ_NO_BUILD=1 (reuse the build).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
harness="${1:-}"
seconds="${2:-}"
shift 2 || true
case "$harness" in
  gguf|safetensors|sentencepiece|server-request) ;;
  *) echo "usage: fuzz/run.sh {gguf|safetensors|sentencepiece|server-request} SECONDS [afl-fuzz options...]" >&2; exit 2 ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "SECONDS must be a whole number" >&2; exit 2; }

work="$here/.work"
sharpfuzz_version=2.3.0   # must match the SharpFuzz package of Eurus.Cpu.Fuzz.csproj
mkdir -p "$work"

# 1. Tools.
if ! command -v afl-fuzz >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y afl++ >/dev/null || { apt-get update >/dev/null && apt-get install -y afl++ >/dev/null; }
  else
    echo "afl-fuzz not found: install AFL++ (Debian/Ubuntu: apt-get install afl++)" >&2; exit 1
  fi
fi
if [[ ! -x "$work/tools/sharpfuzz" ]]; then
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$work/tools" >/dev/null
fi

# 2. Publish, then instrument a fresh copy (SharpFuzz refuses an assembly it has already instrumented).
bin="$work/bin-$harness"
if [[ "${FUZZ_NO_BUILD:-}" != 1 || ! -d "$bin" ]]; then
  nice -n 19 dotnet publish "$here/Eurus.Cpu.Fuzz/Eurus.Cpu.Fuzz.csproj" -c Release -o "$work/publish" --nologo -v quiet >/dev/null
  rm -rf "$bin"
  cp -r "$work/publish" "$bin"
  targets=(Eurus.Cpu.dll)
  [[ "$harness" == server-request ]] && targets+=(eurus-server.dll)
  for t in "${targets[@]}"; do
    "$work/tools/sharpfuzz" "$bin/$t" >/dev/null
    echo "instrumented $t"
  done
fi

# 3. Inputs: the seeds and the crash regressions (the fuzzer starts from every input known to matter).
in="$work/in-$harness"
rm -rf "$in"
mkdir -p "$in"
cp "$here/corpus/$harness"/* "$in/"
if compgen -G "$here/regressions/$harness/*" >/dev/null; then cp "$here/regressions/$harness"/* "$in/"; fi
out="${FUZZ_OUT:-$work/findings/$harness-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$(dirname "$out")"
dict=()
[[ -f "$here/dict/$harness.dict" ]] && dict=(-x "$here/dict/$harness.dict")

echo "fuzzing $harness for $seconds s; output in $out"
# AFL_SKIP_BIN_CHECK: the target is dotnet, not an AFL-compiled binary (SharpFuzz speaks the forkserver protocol).
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
status=0
nice -n 19 afl-fuzz -V "$seconds" -i "$in" -o "$out" -t "${FUZZ_TIMEOUT_MS:-5000}" -m none "${dict[@]}" "$@" \
  -- dotnet "$bin/Eurus.Cpu.Fuzz.dll" "$harness" > "$out.log" 2>&1 || status=$?

# 4. Figures.
stats="$out/default/fuzzer_stats"
if [[ ! -f "$stats" ]]; then
  echo "afl-fuzz exited ($status) without statistics; its log: $out.log" >&2
  tail -30 "$out.log" >&2
  exit 1
fi
stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(stat saved_crashes); [[ -n "$crashes" ]] || crashes=$(stat unique_crashes)
hangs=$(stat saved_hangs); [[ -n "$hangs" ]] || hangs=$(stat unique_hangs)
echo "harness:      $harness"
echo "run time:     $(stat run_time) s"
echo "execs:        $(stat execs_done)"
echo "execs/s:      $(stat execs_per_sec) (whole run: $(awk -F' *: *' '$1=="execs_done"{e=$2} $1=="run_time"{t=$2} END{if(t>0) printf "%.1f", e/t}' "$stats"))"
echo "corpus size:  $(stat corpus_count)"
echo "crashes:      $crashes"
echo "hangs:        $hangs"
echo "stability:    $(stat stability)"
echo "findings:     $out/default/{crashes,hangs}"
if [[ "$crashes" != 0 ]]; then
  echo "triage:       dotnet $work/publish/Eurus.Cpu.Fuzz.dll $harness $out/default/crashes"
fi
