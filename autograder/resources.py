"""Backends the grader provides to a student's function: a Dask client or a SparkSession.

A real cluster is used when the instructor configures one; otherwise the embedded
default (a Dask LocalCluster, Spark ``local[*]``). Each is started once per worker
process and closed when the worker exits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .errors import BackendMissing


@contextlib.contextmanager
def dask_client() -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BackendMissing(
            "Dask distributed is not installed: run `make setup` (or pip install 'dask[distributed]')"
        ) from None
    address = os.environ.get("AUTOGRADER_DASK_SCHEDULER")
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
    master = os.environ.get("AUTOGRADER_SPARK_MASTER", "local[*]")
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


@contextlib.contextmanager
def ipyparallel_client() -> Iterator[Any]:
    """A client of local ipyparallel engines, one per usable core (or a configured profile)."""
    try:
        import ipyparallel as ipp
    except ImportError:
        raise BackendMissing(
            "ipyparallel is not installed: run `make setup` (or pip install ipyparallel)"
        ) from None
    profile = os.environ.get("AUTOGRADER_IPP_PROFILE")
    if profile:
        client = ipp.Client(profile=profile)
        try:
            yield client
        finally:
            client.close()
        return
    from .hardware import usable_cores

    cluster = ipp.Cluster(n=usable_cores(), log_level=40)
    client = cluster.start_and_connect_sync()
    try:
        yield client
    finally:
        client.close()
        cluster.stop_cluster_sync()


def open_resource(kind: str, stack: contextlib.ExitStack) -> Any:
    """Start the resource an exercise asks for; None when it asks for none."""
    providers = {"dask": dask_client, "spark": spark_session, "ipyparallel": ipyparallel_client}
    if kind in providers:
        return stack.enter_context(providers[kind]())
    return None
