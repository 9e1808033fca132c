"""PromQL evaluation over the storage interface, vectorised across series and steps."""
