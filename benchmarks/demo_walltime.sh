#!/usr/bin/env bash
# Wall time of the offline demo pipeline end to end (synthetic data -> report tables/figures),
# in a fresh temporary working directory, with the venv on PATH. Usage: bash benchmarks/demo_walltime.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PATH="$repo/.venv/bin:$PATH"
echo "cores: $(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, max RSS %M KB" \
  snakemake all --cores 2 --configfile "$repo/config.demo.yaml" -s "$repo/Snakefile" -d "$work" --quiet
# Per job (rule/[encoder/]dataset...): seconds.
find "$work/results/demo/benchmarks" -name '*.tsv' | sort | while read -r f; do
  printf '%-50s %s\n' "${f#"$work"/results/demo/benchmarks/}" "$(tail -n 1 "$f" | cut -f1)"
done
for enc in tiny tiny_deep; do
  grep -h "pbv" "$work/results/demo/$enc/metrics/table2.csv" | cut -d, -f1-9 | sed "s/^/$enc: /"
done
cat "$work/results/demo/compare/encoders.md"
