"""Analytics: streaming anomaly detectors (and, later, forecasts, risk and RCA)."""
