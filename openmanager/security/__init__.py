"""Security: API keys and roles, rate and size limits, encrypted secrets in the configuration."""
