"""Backends the grader provides to a student's function: a Dask client, a SparkSession, an
ipyparallel client, or a pool of the course's HTTP services.

A real cluster is used when the instructor configures one; otherwise the embedded
default (a Dask LocalCluster, Spark ``local[*]``, local engines, service instances on
loopback). Each is started once per worker process and closed when the worker exits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import BackendMissing

# Where an instructor points a backend at a real cluster instead of the embedded default.
REMOTE_ENV = {
    "dask": "AUTOGRADER_DASK_SCHEDULER",
    "spark": "AUTOGRADER_SPARK_MASTER",
    "ipyparallel": "AUTOGRADER_IPP_PROFILE",
    "services": "AUTOGRADER_SERVICE_URLS",
}


def remote(kind: str | None) -> bool:
    """Whether the backend ``kind`` is configured to be a cluster on other hosts: a student's
    box must then keep the host's network to reach it."""
    value = os.environ.get(REMOTE_ENV.get(kind or "", ""), "")
    return bool(value) and not (kind == "spark" and value.startswith("local"))


def ipyparallel_connection_file() -> Path | None:
    """The client connection file of the configured ipyparallel profile (or the file itself)."""
    value = os.environ.get(REMOTE_ENV["ipyparallel"], "")
    if not value:
        return None
    if value.endswith(".json"):
        return Path(value)
    from IPython.paths import get_ipython_dir

    return Path(get_ipython_dir()) / f"profile_{value}" / "security" / "ipcontroller-client.json"


@contextlib.contextmanager
def dask_client() -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BackendMissing(
            "Dask distributed is not installed: run `make setup` (or pip install 'dask[distributed]')"
        ) from None
    address = os.environ.get(REMOTE_ENV["dask"])
    if address:
        with Client(address, timeout="20s") as client:
            yield client
        return
    from .hardware import usable_cores

    with (
        LocalCluster(
            n_workers=usable_cores(), threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def spark_session() -> Iterator[Any]:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BackendMissing("pyspark is not installed: run `make setup` (or pip install pyspark)") from None
    from .hardware import ensure_java_home

    ensure_java_home()
    master = os.environ.get(REMOTE_ENV["spark"], "local[*]")
    spark = (
        SparkSession.builder.master(master)
        .appName("autograder")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    try:
        yield spark
    finally:
        spark.stop()


# The hub registers an engine only at its first heartbeat: at the default period (3 s) two
# engines took 8.0 s to be ready here, at 250 ms 4.2 s. 120 misses keep the default's 30 s
# before a frozen or starved engine is declared dead.
LOCAL_CONTROLLER_ARGS = ["--HeartMonitor.period=250", "--HeartMonitor.max_heartmonitor_misses=120"]


@contextlib.contextmanager
def ipyparallel_client() -> Iterator[Any]:
    """A client of local ipyparallel engines, one per usable core (or a configured profile)."""
    try:
        import ipyparallel as ipp
    except ImportError:
        raise BackendMissing(
            "ipyparallel is not installed: run `make setup` (or pip install ipyparallel)"
        ) from None
    profile = os.environ.get(REMOTE_ENV["ipyparallel"])
    if profile:
        # A connection file (what the grader copies into a student's box) or a profile name.
        client = ipp.Client(profile) if profile.endswith(".json") else ipp.Client(profile=profile)
        try:
            yield client
        finally:
            client.close()
        return
    from .hardware import usable_cores

    n = usable_cores()
    cluster = ipp.Cluster(n=n, log_level=40, controller_args=LOCAL_CONTROLLER_ARGS)
    cluster.start_cluster_sync()
    client = cluster.connect_client_sync()
    try:
        # interactive=False: no progress widget in the student's output for the grader's own engines
        client.wait_for_engines(n, interactive=False, timeout=60)
        yield client
    finally:
        client.close()
        cluster.stop_cluster_sync()


# The grader's service pool: instances enough to spread requests over, each with the
# latency of a nearby web API; the lab's exercises choose which ids (and faults) they ask for.
SERVICE_INSTANCES = 4
SERVICE_LATENCY_S = 0.02


@contextlib.contextmanager
def service_pool() -> Iterator[Any]:
    """Instances of autograder/services.py on this process's loopback (inside a worker's box, the
    box's own), or the running instances AUTOGRADER_SERVICE_URLS names."""
    from . import services

    urls = os.environ.get(REMOTE_ENV["services"])
    if urls:
        try:
            remote_pool = services.connect(urls)
        except (RuntimeError, ValueError) as exc:
            raise BackendMissing(f"{REMOTE_ENV['services']}: {exc}") from None
        yield remote_pool
        return
    try:
        pool_cm = services.service_pool(SERVICE_INSTANCES, SERVICE_LATENCY_S)
        pool = pool_cm.__enter__()
    except (RuntimeError, OSError) as exc:
        raise BackendMissing(f"the course's HTTP services did not start: {exc}") from None
    try:
        yield pool
    finally:
        pool_cm.__exit__(None, None, None)


def open_resource(kind: str, stack: contextlib.ExitStack) -> Any:
    """Start the resource an exercise asks for; None when it asks for none."""
    providers = {
        "dask": dask_client,
        "spark": spark_session,
        "ipyparallel": ipyparallel_client,
        "services": service_pool,
    }
    if kind in providers:
        return stack.enter_context(providers[kind]())
    return None
