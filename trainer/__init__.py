"""Generation, training and benchmarks for the taxonomy bot.

Everything here may import torch; keep it out of `bot validate`'s import path.
"""

import os

# Models come from local directories only (CI runners have no hub access, and a silent
# download would make results depend on the day). Set here, before any submodule imports
# transformers / huggingface_hub, which read these once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Our own rich progress reports loading and generation; transformers' tqdm bars
# ("Loading weights", "Writing model shards") would only interleave with it.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
