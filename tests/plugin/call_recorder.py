"""Records every AWS call a process makes (service, operation, parameter names) to $CALLS_FILE, one JSON line each."""
import json
import os

import botocore.client

_original = botocore.client.BaseClient._make_api_call


def _recording(self, operation_name, api_params):
    path = os.environ.get("CALLS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"service": self.meta.service_model.service_name, "operation": operation_name,
                                  "params": sorted(api_params),
                                  "role": "RoleARN" in json.dumps(api_params, default=str)}) + "\n")
    return _original(self, operation_name, api_params)


botocore.client.BaseClient._make_api_call = _recording
