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

    with LocalCluster(
        n_workers=usable_cores(), threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster) as client:
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


def open_resource(kind: str, stack: contextlib.ExitStack) -> Any:
    """Start the resource an exercise asks for; None when it asks for none."""
    if kind == "dask":
        return stack.enter_context(dask_client())
    if kind == "spark":
        return stack.enter_context(spark_session())
    return None
