"""What the tests share that is not a test: the app's settings, the tablet and staff walks,
servers, databases, the browser and certificates."""
