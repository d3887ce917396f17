"""JupyterHub for a class taking Scale Up & Out on one Linux machine (docs/jupyterhub.md).

tests/test_hub.py starts a hub from this very file, through an overlay that swaps PAM for
JupyterHub's test authenticator and moves ports and folders to a scratch place; nothing
else differs.

The class's users are the machine's Unix users. Each one's server runs as that user
(LocalProcessSpawner) from the course's environment, in a cgroup of its own that caps
its memory and processes. A profile, chosen when the server starts, declares the
hardware its labs may use, in the variables `autograder doctor` and the grader read.
Course membership lives in hub groups that nbgrader reads (nbgrader_config.py here).
"""

import contextlib
import html
import os
import pwd

from jupyterhub.spawner import LocalProcessSpawner
from tornado import web

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

# The course's packages plus jupyterhub and bokeh, in a folder every user can read.
COURSE_ENV = os.environ.get("COURSE_HUB_ENV", "/opt/scale-up-out/venv")
EXCHANGE = os.environ.get("COURSE_HUB_EXCHANGE", "/srv/nbgrader/exchange")
MEM_LIMIT = os.environ.get("COURSE_HUB_MEM_LIMIT", "4G")
PROCESS_LIMIT = int(os.environ.get("COURSE_HUB_PROCESS_LIMIT", "512"))


def _box_dir(spawner):
    """An instructor grading on the hub is not root: the grader's boxes go in their home.
    Short on purpose: kernels' sockets live in the boxes, and a socket's path has at most
    107 characters."""
    return os.path.join(pwd.getpwnam(spawner.user.name).pw_dir, ".agbox")


# Every server gets these; a profile adds its own.
ENVIRONMENT = {
    "PATH": f"{COURSE_ENV}/bin:/usr/local/bin:/usr/bin:/bin",
    "COURSE_HUB_EXCHANGE": EXCHANGE,  # read by the shared nbgrader_config.py
    "AUTOGRADER_BOX_DIR": _box_dir,
    # Dask's dashboard link points through jupyter-server-proxy, under the user's own URL.
    "DASK_DISTRIBUTED__DASHBOARD__LINK": "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status",
}

# Cluster addresses come from the hub's own environment, so that an admin points the
# labs at the department's clusters without editing this file.
CLUSTER_VARS = ("AUTOGRADER_DASK_SCHEDULER", "AUTOGRADER_SPARK_MASTER", "AUTOGRADER_MPI_HOSTFILE")
PROFILES = {
    "cpu": {
        "label": "CPU: every lab on this machine; GPU exercises run on the CUDA simulator",
        "environment": {},
    },
    "gpu": {
        "label": "GPU: GPU exercises must find a GPU (a skip becomes a fail)",
        "environment": {"AUTOGRADER_REQUIRE": "gpu"},
    },
}
if any(var in os.environ for var in CLUSTER_VARS):
    PROFILES["cluster"] = {
        "label": "Cluster: the Dask, Spark and MPI labs run on the department's clusters",
        "environment": {
            "AUTOGRADER_REQUIRE": "cluster",
            **{var: os.environ[var] for var in CLUSTER_VARS if var in os.environ},
        },
    }


def options_form(spawner):
    """The choice a user sees at /hub/spawn: one radio button per profile."""
    rows = [
        f'<label><input type="radio" name="profile" value="{name}"{" checked" if name == "cpu" else ""}>'
        f" {html.escape(profile['label'])}</label><br>"
        for name, profile in PROFILES.items()
    ]
    return "\n".join(rows)


def apply_profile(spawner, user_options):
    """user_options come from the form or from the REST API's JSON body: {"profile": NAME}."""
    name = user_options.get("profile", "cpu")
    if name not in PROFILES:
        raise web.HTTPError(400, f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    spawner.environment = {**ENVIRONMENT, **PROFILES[name]["environment"], "COURSE_HUB_PROFILE": name}


def _user_cgroup(name: str, memory_bytes: int, processes: int):
    """A fresh cgroup for one user's server, from the course's own cgroup code (v1 or v2)."""
    from autograder.sandbox.cgroups import Cgroup

    with contextlib.suppress(OSError, KeyError):  # left over by a hub that was killed
        Cgroup(f"hub-{name}", existing=True).remove()
    group = Cgroup(f"hub-{name}")
    group.limit(memory_bytes=memory_bytes, pids=processes)
    return group


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that starts each server in a cgroup capping its memory
    (mem_limit) and processes, for the server and everything it starts together, and
    kills whatever is left in that cgroup when the server stops."""

    _cgroup = None

    async def start(self):
        try:
            self._cgroup = _user_cgroup(self.user.name, int(self.mem_limit or 0), PROCESS_LIMIT)
        except (OSError, ImportError) as exc:
            self.log.warning("no cgroup for %s (%s): its server runs without limits", self.user.name, exc)
            self._cgroup = None
        return await super().start()

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        procs = self._cgroup.procs_files() if self._cgroup else []

        def preexec():
            for path in procs:  # join the cgroup while still root, then become the user
                with open(path, "w") as fh:
                    fh.write(str(os.getpid()))
            become_user()

        return preexec

    async def stop(self, now=False):
        await super().stop(now=now)
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [f"{COURSE_ENV}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = ENVIRONMENT
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.options_form = options_form
c.Spawner.options_from_form = "simple"
c.Spawner.apply_user_options = apply_profile
# nbgrader's JupyterHubAuthPlugin asks the hub for the user's groups with the server's token.
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", "read:users:groups!user"]

# Unix accounts, password through PAM. Only users the hub knows may log in: the admin adds
# them (admin page or REST API) and enrols them with groups.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allow_all = False
c.Authenticator.allow_existing_users = True
c.JupyterHub.bind_url = os.environ.get("COURSE_HUB_URL", "http://:8000")
c.ConfigurableHTTPProxy.command = [os.environ.get("COURSE_HUB_PROXY", "configurable-http-proxy")]

# A token for scripts that add users, enrol them and start servers (not for reading
# anyone's files: it has no access to the users' servers).
if os.environ.get("COURSE_HUB_ADMIN_TOKEN"):
    c.JupyterHub.services = [{"name": "course-admin", "api_token": os.environ["COURSE_HUB_ADMIN_TOKEN"]}]
    c.JupyterHub.load_roles = [
        {
            "name": "course-admin",
            "scopes": ["admin:users", "admin:groups", "admin:servers", "tokens", "list:users"],
            "services": ["course-admin"],
        }
    ]
