"""Failure-risk score per server: factors from PromQL, a calibrated logistic combination."""
