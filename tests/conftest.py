"""Test-suite plugins that the pytest-xdist controller must load too (it collects no tests)."""

pytest_plugins = ["tests.promql.suite_summary", "tests.cluster", "tests.metadb"]
