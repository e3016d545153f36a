"""A throw-away one-node SLURM cluster for the workflow tests (facts: docs/slurm.md).

Writes slurm.conf and gres.conf (one fake GPU: ``File=/dev/null``) into a fresh temporary folder,
links them into /etc/slurm (never replacing a configuration that is not its own), starts munged
(unless one already answers), ``slurmctld -D`` and ``slurmd -D`` as child processes without
systemd, waits until ``sinfo`` shows the node idle, and on ``stop()`` cancels the cluster's jobs,
ends exactly the processes it started and removes its links. Needs root and the packages from
``.ci/install-slurm.sh``. Everything SLURM uses is global to the host (ports 6817/6818,
/etc/slurm, /run/munge), so only one such cluster can run at a time.

    with local_cluster() as cluster:
        subprocess.run(["sinfo"], env=cluster.env)

By hand: ``python -m tests.workflow.slurm_cluster`` starts a cluster, prints sinfo and stops it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

PARTITION = "debug"
TMP_PREFIX = "vjepa-fer-slurm-"
# slurmctld and slurmd listen here (the packages' defaults); a second cluster would collide.
PORTS = (6817, 6818)
BINARIES = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo")
BINARIES += ("scontrol", "scancel")
MUNGE_KEY = Path("/etc/munge/munge.key")
# Where srun looks without SLURM_CONF. The slurm-jobstep executor (0.6.1) strips SLURM_* from the
# environment of the srun it starts inside each job, SLURM_CONF included, so the configuration
# must be reachable here: we link it for the cluster's lifetime.
ETC_SLURM = Path("/etc/slurm")
CONF_FILES = ("slurm.conf", "gres.conf")
MUNGE_RUN = Path("/run/munge")

SLURM_CONF = """\
ClusterName=local
SlurmctldHost={host}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default a job that gives no --mem takes the whole node.
DefMemPerCPU=1000
ReturnToService=2
# Finished jobs stay visible to squeue for 30 minutes: the executor's status command needs
# that when there is no slurmdbd (sacct then has nothing to answer with), and the tests read the
# resources of jobs that ended minutes before the run did (scontrol show job).
MinJobAge=1800
SchedulerParameters=bf_interval=5
# Use the node line below even where the hardware probe disagrees (containers, CI runners).
SlurmdParameters=config_overrides
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} {gres}State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""

# GPUs that are only names: jobs asking for --gpus=1 are scheduled (no more at once than there
# are GPUs) and see CUDA_VISIBLE_DEVICES, while the code under test falls back to the CPU. Each
# needs a device file of its own (without File= the node drains); any harmless one will do.
GPU_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")
GRES_LINE = "NodeName={host} Name=gpu File={file}\n"


def missing_requirements() -> str | None:
    """Why a cluster cannot start here (a pytest skip reason), or None when it can."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "a local SLURM cluster needs Linux"
    missing = [b for b in BINARIES if _which(b) is None]
    if missing:
        return f"SLURM is not installed (missing {', '.join(missing)}; run .ci/install-slurm.sh)"
    if os.geteuid() != 0:
        return "starting slurmd and munged needs root"
    for user in ("munge", "slurm"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"system user {user!r} is missing (reinstall with .ci/install-slurm.sh)"
    for name in CONF_FILES:
        if _foreign_conf(ETC_SLURM / name):
            return f"{ETC_SLURM / name} belongs to another SLURM on this host"
    return None


def _foreign_conf(path: Path) -> bool:
    """True if path is a configuration this module did not create (a link of ours, even one a
    killed test run left behind, is not foreign)."""
    if path.is_symlink():
        target = Path(os.readlink(path))
        return not (target.name in CONF_FILES and target.parent.name.startswith(TMP_PREFIX))
    return path.exists()


def _which(name: str) -> str | None:
    # Daemons live in /usr/sbin, which a non-login PATH may lack.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} is unreadable)"


def _mem_total_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("/proc/meminfo has no MemTotal line")


class SlurmCluster:
    """A running one-node cluster; ``env`` is the environment for SLURM commands and jobs."""

    def __init__(self, root: Path, host: str, cpus: int, mem_mb: int, gpus: int) -> None:
        self.root = root
        self.host = host
        self.cpus = cpus
        self.mem_mb = mem_mb
        self.gpus = gpus
        self.partition = PARTITION
        self.conf = root / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        # Jobs inherit the submitter's environment: stale variables of an enclosing job would
        # confuse srun inside our jobs.
        for key in [k for k in self.env if k.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
            if key != "SLURM_CONF":
                del self.env[key]
        self.env["PATH"] = f"{self.env.get('PATH', '')}{os.pathsep}/usr/sbin:/sbin"
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        self._links: list[Path] = []

    # -- commands --------------------------------------------------------------------------
    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster and return its result."""
        return subprocess.run(
            list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still remembers (finished ones for MinJobAge), as key=value dicts."""
        res = self.run("scontrol", "show", "job", "--oneliner")
        if res.returncode != 0 or "No jobs in the system" in res.stdout:
            return []
        jobs = []
        for line in res.stdout.splitlines():
            if line.strip():
                # Values may hold spaces (Command=...), so a value ends where " Key=" begins.
                pairs = re.findall(r"(\w[\w:/.]*)=(.*?)(?= \w[\w:/.]*=|$)", line.strip())
                jobs.append(dict(pairs))
        return jobs

    def logs(self) -> str:
        """The tails of the daemons' logs, for failure messages."""
        return "\n".join(f"--- {p.name}\n{_tail(p)}" for p in sorted((self.root / "log").iterdir()))

    # -- life cycle ------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], **kwargs) -> None:
        out = open(self.root / "log" / f"{name}.out", "w")  # noqa: SIM115 (closed in stop)
        self._logs.append(out)
        # A new session: a Ctrl-C in the terminal reaches pytest, whose finalizer stops us.
        self.processes[name] = subprocess.Popen(
            cmd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
        logger.info("started %s (pid %d)", name, self.processes[name].pid)

    def _wait(self, what: str, ok, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode} while waiting for {what}\n"
                        + self.logs()
                    )
            if ok():
                return
            time.sleep(0.5)
        raise TimeoutError(f"{what} did not happen within {timeout:.0f} s\n{self.logs()}")

    def _start_munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            logger.info("reusing the munged that already runs")
            return
        munge = pwd.getpwnam("munge")
        if not MUNGE_KEY.exists():
            subprocess.run([_which("mungekey"), "-c", "-k", str(MUNGE_KEY)], check=True)
            os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
            MUNGE_KEY.chmod(0o600)
        for d in (MUNGE_RUN, Path("/var/lib/munge"), Path("/var/log/munge")):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, munge.pw_uid, munge.pw_gid)
        MUNGE_RUN.chmod(0o755)
        # Popen(user=) switches user before exec, so the PID we hold is munged's own.
        self._spawn("munged", [_which("munged"), "-F"], user="munge", group="munge")
        self._wait(
            "munge credentials",
            lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0,
            20,
        )

    def start(self, timeout: float = 90) -> None:
        """Write the configuration and start the daemons; raises with their logs on failure."""
        for port in PORTS:
            if _port_in_use(port):
                raise RuntimeError(
                    f"port {port} is in use: another SLURM runs on this host; stop it first"
                )
        slurm = pwd.getpwnam("slurm")
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        gres = f"Gres=gpu:{self.gpus} " if self.gpus else ""
        self.conf.write_text(
            SLURM_CONF.format(
                host=self.host,
                root=self.root,
                cpus=self.cpus,
                mem_mb=self.mem_mb,
                gres=gres,
                partition=self.partition,
            )
        )
        # slurmd reads gres.conf from the folder of slurm.conf.
        gres_conf = "AutoDetect=off\n" + "".join(
            GRES_LINE.format(host=self.host, file=f) for f in GPU_FILES[: self.gpus]
        )
        (self.root / "gres.conf").write_text(gres_conf)
        # slurmctld drops to SlurmUser, which must reach the config and own state and logs.
        for path in (self.root, self.root / "state", self.root / "log"):
            os.chown(path, slurm.pw_uid, slurm.pw_gid)
        self.root.chmod(0o755)
        ETC_SLURM.mkdir(parents=True, exist_ok=True)
        for name in CONF_FILES:
            link = ETC_SLURM / name
            if _foreign_conf(link):
                raise RuntimeError(f"{link} belongs to another SLURM on this host; not replaced")
            if link.is_symlink():
                link.unlink()  # a dangling link of an earlier, killed run
            link.symlink_to(self.root / name)
            self._links.append(link)

        self._start_munge()
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._wait("slurmctld to answer", lambda: "UP" in self.run("scontrol", "ping").stdout, 30)
        self._spawn("slurmd", [_which("slurmd"), "-D", "-N", self.host, "-f", str(self.conf)])

        def idle() -> bool:
            state = self.run("sinfo", "-h", "-o", "%t").stdout.strip()
            if state.startswith("drain"):
                reason = self.run("sinfo", "-R").stdout
                raise RuntimeError(f"node drained: {reason}\n{self.logs()}")
            return state == "idle"

        self._wait("the node to be idle in sinfo", idle, timeout)

    def cancel_all(self, timeout: float = 30) -> None:
        """Cancel every job and wait until none is running (their steps end with them)."""
        ids = self.run("squeue", "-h", "-o", "%i").stdout.split()
        if ids:
            self.run("scancel", *ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run("squeue", "-h", "-o", "%i").stdout.split():
                return
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel the jobs and end the processes we started (newest first); idempotent."""
        if not self.processes and not self.root.exists():
            return
        alive = any(p.poll() is None for p in self.processes.values())
        if alive and self.processes.get("slurmctld") is not None:
            with contextlib.suppress(Exception):
                self.cancel_all()
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    logger.warning("%s (pid %d) ignored SIGTERM; killing it", name, proc.pid)
                    proc.kill()
                    proc.wait(timeout=10)
        self.processes.clear()
        for f in self._logs:
            f.close()
        self._logs.clear()
        for link in self._links:
            if link.is_symlink() and Path(os.readlink(link)).parent == self.root:
                link.unlink()
        self._links.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(
    cpus: int | None = None, mem_mb: int | None = None, gpus: int = 1, timeout: float = 90
) -> SlurmCluster:
    """Start a one-node cluster (CPUs and memory of this machine by default, ``gpus`` fake
    GPUs) and return it."""
    reason = missing_requirements()
    if reason:
        raise RuntimeError(reason)
    if not 0 <= gpus <= len(GPU_FILES):
        raise ValueError(f"gpus={gpus}: a fake node has 0 to {len(GPU_FILES)} GPUs")
    # /tmp rather than pytest's tmp_path: the slurm user must read the config (pytest's is 0700).
    root = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    cluster = SlurmCluster(
        root,
        host=socket.gethostname().split(".")[0],
        cpus=cpus or os.cpu_count() or 1,
        # Leave headroom for the OS: slurmd drains a node that claims more than it has.
        mem_mb=mem_mb or int(_mem_total_mb() * 0.8),
        gpus=gpus,
    )
    atexit.register(cluster.stop)
    try:
        cluster.start(timeout=timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def local_cluster(**kwargs) -> Iterator[SlurmCluster]:
    """``start_cluster(**kwargs)`` as a context manager that always stops it."""
    cluster = start_cluster(**kwargs)
    try:
        yield cluster
    finally:
        cluster.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    t0 = time.monotonic()
    with local_cluster() as c:
        print(f"cluster up in {time.monotonic() - t0:.1f} s")
        print(c.run("sinfo").stdout)
        print(c.run("scontrol", "show", "node").stdout)
