"""Evaluation of detectors outside the models: NAB scoring and corpus replay."""
