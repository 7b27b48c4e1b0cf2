"""Project-wide test configuration: the plugin under test is loaded through its entry point; pytester
is enabled for the plugin's own tests."""

pytest_plugins = ["pytester"]
