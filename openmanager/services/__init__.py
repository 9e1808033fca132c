"""Services: the application logic the API and the CLI both call."""
