"""The service install: the files `aggregator install` writes pass `systemd-analyze verify`
and `security`, make the user, group and directories they promise, and under the unit's
user, umask and directories a member of the group reads the data and uses the socket while
other users do neither (systemd is not PID 1 here: its tools are run on a staging root and
the daemon is started under the unit's credentials by hand)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator import install as installer
from aggregator.errors import AggregatorError
from aggregator.sim import VenueSim

from .test_daemon import VENUES, short_dir, wait_for

REPO = Path(__file__).parent.parent
UNIT = "etc/systemd/system/aggregator.service"
MAX_EXPOSURE = 1.5
AGGREGATOR = (sys.executable, "-m", "aggregator")


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI (.ci/run installs systemd)")
        pytest.skip(f"{name} is not installed on this machine")
    return found


def install(root: Path) -> str:
    """``aggregator install --root ROOT`` for this environment, in process: what it says."""
    out = io.StringIO()
    assert installer.write(root, sys.prefix, out) == 0
    return out.getvalue()


def test_installed_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    out = subprocess.run(
        [*AGGREGATOR, "install", "--root", str(tmp_path), "--prefix", sys.prefix],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "written" in out and str(tmp_path / UNIT) in out
    unit = tmp_path / UNIT
    text = unit.read_text()
    assert f"ExecStart={sys.prefix}/bin/aggregator run -c /etc/aggregator/aggregator.toml" in text
    for line in (
        "Type=notify",
        "User=aggregator",
        "Group=aggregator",
        "StateDirectory=aggregator",
        "RuntimeDirectory=aggregator",
        "UMask=0027",
        "ProtectSystem=strict",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert line in text.splitlines(), line
    assert "DynamicUser" not in text  # its data would be under /var/lib/private
    (doc,) = re.findall(r"^Documentation=file://(\S+)$", text, re.MULTILINE)
    assert (tmp_path / doc.lstrip("/")).read_text().startswith("# aggregator")

    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "aggregator.service" not in r.stderr, r.stderr  # no warning about our unit
    r = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for aggregator\.service: (\d+\.\d+)", r.stdout)
    assert found, r.stdout + r.stderr
    assert float(found[1]) <= MAX_EXPOSURE, r.stdout

    # --print shows the same files; the repository's systemd/ files are the packaged ones
    printed = io.StringIO()
    installer.show(sys.prefix, printed)
    assert f"# ==> /{UNIT} (mode 0644) <==\n{text}" in printed.getvalue()
    shipped = (REPO / "systemd" / "aggregator.service").read_text()
    assert shipped.replace("/opt/aggregator/", f"{sys.prefix}/") == text


def test_install_keeps_the_operators_config_and_refuses_a_bad_prefix(tmp_path: Path) -> None:
    install(tmp_path)
    config = tmp_path / "etc/aggregator/aggregator.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    config.write_text("# mine\n")
    assert f"kept     {config}" in install(tmp_path)
    assert config.read_text() == "# mine\n"
    r = subprocess.run(
        [*AGGREGATOR, "install", "--root", str(tmp_path), "--prefix", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 1
    assert f"aggregator: no {tmp_path}/nowhere/bin/aggregator: install the package" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(AggregatorError, match=r"is hidden from the service \(ProtectHome=yes\)"):
        installer.show("/root/.local/pipx/venvs/aggregator", io.StringIO())


def apply(*command: str) -> None:
    subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)


def _ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise AssertionError(f"no user {name} in {root}/etc/passwd")


def as_user(uid: int, gid: int, *groups: int) -> list[str]:
    """The command prefix that runs a program as ``uid``:``gid`` with only these
    supplementary groups and no capabilities, as systemd starts a service's process."""
    ids = ",".join(map(str, groups or (gid,)))
    return [tool("setpriv"), f"--reuid={uid}", f"--regid={gid}", f"--groups={ids}"]


def _as(uid: int, groups: list[int], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python process as ``uid`` in these groups."""
    cmd = [*as_user(uid, groups[0], *groups), sys.executable, "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd="/")


# Reads a data file and a line of the socket; says what each gave.
READ_AND_CONNECT = """
import socket
try:
    with open({data!r}) as f:
        print("read", f.readline().startswith('{{"type":'))
except PermissionError:
    print("read denied")
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect({sock!r})
    print("socket", s.recv(1 << 16).startswith(b'{{"type":'))
except PermissionError:
    print("socket denied")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="changing credentials needs root")
async def test_the_group_reads_the_data_and_uses_the_socket_others_do_not() -> None:
    sysusers, tmpfiles = tool("systemd-sysusers"), tool("systemd-tmpfiles")
    base = short_dir()
    os.chmod(base, 0o755)  # (mkdtemp made it 0700) the users below pass through it
    root = base / "fs"
    install(root)
    apply(sysusers, f"--root={root}", str(root / "etc/sysusers.d/aggregator.conf"))
    uid, gid = _ids(root, "aggregator")
    apply(tmpfiles, f"--root={root}", "--create", str(root / "etc/tmpfiles.d/aggregator.conf"))
    state, config = root / "var/lib/aggregator", root / "etc/aggregator"
    for path, owner, mode in (
        (state, (uid, gid), 0o750),
        (config, (0, gid), 0o750),
        (config / "aggregator.toml", (0, gid), 0o640),
    ):
        st = path.stat()
        assert ((st.st_uid, st.st_gid), stat.S_IMODE(st.st_mode)) == (owner, mode), path
    # what the unit's RuntimeDirectory= makes at start
    runtime = root / "run/aggregator"
    runtime.mkdir(parents=True)
    os.chown(runtime, uid, gid)
    os.chmod(runtime, 0o750)

    sim = VenueSim("kraken", rate=200, seed=3)
    await sim.start()
    # the shipped config's sections with a simulated venue; paths from systemd's variables
    shipped = (config / "aggregator.toml").read_text().split("[exchanges.")[0]
    endpoints = "".join(f'{k} = "{v}"\n' for k, v in sim.endpoints().items())
    venue = f"[exchanges.kraken]\nsymbols = {json.dumps(VENUES['kraken'])}\n{endpoints}"
    (config / "aggregator.toml").write_text(shipped + venue)
    env = {**os.environ, "STATE_DIRECTORY": str(state), "RUNTIME_DIRECTORY": str(runtime)}
    proc = await asyncio.create_subprocess_exec(
        *as_user(uid, gid),
        sys.executable,
        "-m",
        "aggregator",
        "run",
        "-c",
        str(config / "aggregator.toml"),
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=state,
        umask=0o027,  # the unit's UMask=
    )
    sock = runtime / "aggregator.sock"
    try:

        def written() -> list[Path]:
            return [p for p in (state / "data").rglob("*.jsonl") if p.stat().st_size]

        await wait_for(lambda: sock.exists() and written())
        data = written()[0]
        code = READ_AND_CONNECT.format(data=str(data), sock=str(sock))
        member = await asyncio.to_thread(_as, 64001, [gid], code)
        assert member.stdout == "read True\nsocket True\n", member.stderr
        other = await asyncio.to_thread(_as, 64002, [64002], code)
        assert other.stdout == "read denied\nsocket denied\n", other.stderr
        # nothing in the data directory is for others, nothing is the group's to write
        for path in [state / "data", *(state / "data").rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o007 == 0 and mode & 0o020 == 0 and mode & 0o040, (path, oct(mode))
            assert (path.stat().st_uid, path.stat().st_gid) == (uid, gid), path
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
    finally:
        proc.terminate()
        async with asyncio.timeout(15):
            _, err = await proc.communicate()
        await sim.stop()
    assert proc.returncode == 0, err.decode()
