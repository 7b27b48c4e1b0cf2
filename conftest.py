"""Project-wide test configuration.

The plugin under test loads through its ``pytest11`` entry point (the package is installed editable);
pytester is enabled for the plugin's own tests. The project's own runs never look for credentials on
an instance-metadata address: only 127.0.0.1 is ever contacted.
"""

import os

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

pytest_plugins = ["pytester"]
