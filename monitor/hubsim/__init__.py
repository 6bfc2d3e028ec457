"""Hub simulator: a local fake of the Hugging Face Hub API for tests, demos and benchmarks.

from monitor.hubsim import HubSimulator, scenario_path
with HubSimulator() as sim:
    sim.load_scenario("demo")
    HfApi(endpoint=sim.url, token=False).list_models(sort="created_at")
"""

from monitor.hubsim.faults import FaultRule
from monitor.hubsim.files import (
    FileEntry,
    gguf_file,
    gguf_header,
    gguf_metadata,
    llama_tensors,
    make_file,
    parameter_counts,
    safetensors_bytes,
    safetensors_file,
    safetensors_header,
)
from monitor.hubsim.scenario import parse_duration, parse_time, scenario_path
from monitor.hubsim.server import HubSimulator, RequestRecord

__all__ = [
    "FaultRule",
    "FileEntry",
    "HubSimulator",
    "RequestRecord",
    "gguf_file",
    "gguf_header",
    "gguf_metadata",
    "llama_tensors",
    "make_file",
    "parameter_counts",
    "parse_duration",
    "parse_time",
    "safetensors_bytes",
    "safetensors_file",
    "safetensors_header",
    "scenario_path",
]
