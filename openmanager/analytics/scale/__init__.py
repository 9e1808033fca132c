"""Autoscaling recommendations: predictive (forecast upper bound) plus reactive, within limits."""
