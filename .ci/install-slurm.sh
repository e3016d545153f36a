#!/usr/bin/env bash
# Installs a one-machine SLURM (munge, slurmctld, slurmd and the client commands) from the
# Debian/Ubuntu archive so that tests/workflow/test_slurm.py can run the pipeline through a real
# scheduler (see tests/workflow/slurm_cluster.py; facts measured in docs/slurm.md).
# Idempotent and non-interactive: does nothing when the binaries are already there. Starts no
# daemon and writes no slurm.conf: the test fixture does both in a temporary folder (linked into
# /etc/slurm while the test cluster runs).
# Usage: .ci/install-slurm.sh   (as root, or with passwordless sudo)
set -euo pipefail

need=(munged munge mungekey slurmctld slurmd sbatch srun squeue sinfo scontrol scancel)
missing=0
for bin in "${need[@]}"; do
    command -v "$bin" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$bin" \
        >/dev/null 2>&1 || missing=1
done
if [ "$missing" -eq 0 ]; then
    echo "install-slurm: SLURM is already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-slurm: apt-get not found; install munge, slurmctld, slurmd and slurm-client" \
        "with this system's package manager" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# The packages' maintainer scripts try to start services; without systemd they just skip it.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    munge slurmctld slurmd slurm-client
echo "install-slurm: installed $(dpkg-query -W -f='${Package} ${Version}\n' slurmctld)"
