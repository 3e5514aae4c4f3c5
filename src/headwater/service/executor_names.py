"""The names of the executors a run can use: what the CLI's options, the UI's forms and the
API's checks list, without importing the executors themselves (multiprocessing, the
coordinator's step machinery), which only a run needs."""

EXECUTORS = ("in_process", "multiprocess", "dask")
