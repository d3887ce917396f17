"""What the hub and browser tests need beyond the course's packages, installed when absent.

Each ``ensure_*`` returns what the test needs (a path, usually) or raises ``Missing``,
whose message says what is missing and how to get it; the tests skip with it. What
they install goes where a second run finds it:

- jupyterhub and playwright: into the running venv (`uv pip install`), as `make setup`
  installs the dev extra;
- configurable-http-proxy: from the npm registry into ``.hub/node/`` (project-local,
  git-ignored), never globally;
- the users' environment: ``.hub/venv/``, the course's packages plus jupyterhub, on a
  Python that every Unix user can run (the hub's single-user servers run as the class's
  users, who cannot enter root's home, where pyenv or uv keep their Pythons);
- chromium: Debian's package, with apt-get, when the test runs as root. Playwright drives
  it through ``executable_path``; no browser is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB_DIR = ROOT / ".hub"
USER_ENV = HUB_DIR / "venv"
NODE_DIR = HUB_DIR / "node"
CHP_PACKAGE = "configurable-http-proxy@5"
USER_ENV_EXTRAS = ["jupyterhub>=5.3"]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# The flags measured to work on the course's machines: headless, as root, no GPU, quiet.
# The profile folder (--user-data-dir) is passed the way Playwright wants it.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Missing(Exception):
    """Something a test needs is absent and could not be installed; the message says how."""


def _uv() -> list[str]:
    found = shutil.which("uv") or next(
        (str(p) for p in (Path.home() / ".local/bin/uv", Path("/usr/local/bin/uv")) if p.exists()), None
    )
    if found:
        return [found]
    if subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True).returncode == 0:
        return [sys.executable, "-m", "uv"]
    raise Missing("uv is not installed: run `make setup` (it installs uv) or `pip install uv`")


def _run(cmd: list[str], what: str, timeout: float = 600, **kwargs) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Missing(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        raise Missing(f"{what} failed (`{' '.join(cmd)}`): {(proc.stderr or proc.stdout)[-800:]}")


def _pip_install(package: str, module: str) -> None:
    """Install ``package`` into this venv unless ``module`` imports already."""
    if importlib.util.find_spec(module) is None:
        _run([*_uv(), "pip", "install", "--python", sys.executable, package], f"installing {package}")
        importlib.invalidate_caches()
    if importlib.util.find_spec(module) is None:
        raise Missing(f"{package} is not importable after installing it: run `make setup`")


def ensure_jupyterhub() -> Path:
    """JupyterHub in this venv (it runs the hub); returns its `jupyterhub` command."""
    _pip_install("jupyterhub>=5.3", "jupyterhub")
    return Path(sys.executable).with_name("jupyterhub")


def ensure_playwright() -> None:
    _pip_install("playwright>=1.45", "playwright")


def ensure_chp() -> Path:
    """configurable-http-proxy, JupyterHub's proxy: on PATH, or installed with npm into .hub/node."""
    local = NODE_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return local
    on_path = shutil.which("configurable-http-proxy")
    if on_path:
        return Path(on_path)
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        raise Missing(
            "configurable-http-proxy needs Node.js and npm: install them (apt-get install nodejs npm), "
            f"then `npm install --prefix {NODE_DIR} {CHP_PACKAGE}`"
        )
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    _run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), CHP_PACKAGE],
         "installing configurable-http-proxy from npm")  # fmt: skip
    if not local.exists():
        raise Missing(f"npm installed {CHP_PACKAGE} but {local} is not there")
    return local


def _reachable_by_everyone(path: Path) -> bool:
    """Whether a user other than the owner can reach and execute ``path``."""
    real = Path(os.path.realpath(path))
    if not real.exists() or not real.stat().st_mode & stat.S_IXOTH:
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in real.parents)


def _shared_python() -> str:
    """A Python of this minor version that every user can run (the venv's own when it can)."""
    want = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{want}", f"/usr/local/bin/{want}"):
        if _reachable_by_everyone(Path(candidate)):
            return candidate
    raise Missing(
        f"no {want} that other users can run: the class's servers run as their own users. "
        f"Install one (apt-get install {want}) or keep the course's Python outside a private home"
    )


def ensure_user_env() -> Path:
    """The class's environment, ``.hub/venv``: returns its bin folder. Rebuilt when
    pyproject.toml changes (a stamp holds its hash); the first build takes about a minute."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + " ".join(USER_ENV_EXTRAS).encode())
    stamp = USER_ENV / ".stamp"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return USER_ENV / "bin"
    python = _shared_python()
    uv = _uv()
    HUB_DIR.mkdir(exist_ok=True)
    os.chmod(HUB_DIR, 0o755)
    if not (USER_ENV / "bin" / "python").exists():
        _run([*uv, "venv", "--quiet", "--python", python, str(USER_ENV)], "creating .hub/venv")
    python_in_env = str(USER_ENV / "bin" / "python")
    _run([*uv, "pip", "install", "--quiet", "--python", python_in_env, "-e", str(ROOT), *USER_ENV_EXTRAS],
         "installing the course into .hub/venv", timeout=900)  # fmt: skip
    stamp.write_text(digest.hexdigest())
    return USER_ENV / "bin"


def chromium_context(playwright, executable: str, profile_dir: Path, width: int = 1400, height: int = 1100):
    """A headless Debian chromium driven by Playwright, with its own scratch profile."""
    return playwright.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=executable,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": width, "height": height},
    )


def ensure_chromium() -> str:
    """Debian's chromium: found, or installed with apt-get when running as root."""
    found = next((c for c in CHROMIUM_CANDIDATES if os.access(c, os.X_OK)), None)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Missing("no chromium: install Debian's package (sudo apt-get install chromium)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-q"], "apt-get update", env=env)
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
         "apt-get install chromium", env=env)  # fmt: skip
    found = next((c for c in CHROMIUM_CANDIDATES if os.access(c, os.X_OK)), None)
    if not found:
        raise Missing("apt-get installed chromium but no chromium binary is on the usual paths")
    return found
