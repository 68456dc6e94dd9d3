pytest_plugins = ["orderbridge.testing"]
