"""The embedded time-series database and the storage interface every consumer uses."""
