"""Running the package's models on a Dask cluster (``pip install ".[dask]"``)."""

from ._serving import batch_recommend, batch_recommend_logs

__all__ = ["batch_recommend", "batch_recommend_logs"]
