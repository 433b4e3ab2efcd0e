"""Pipelines that end in a recommender: ``recommend`` through the preprocessing."""

from ._pipeline import Pipeline, make_pipeline, recommend

__all__ = ["Pipeline", "make_pipeline", "recommend"]
