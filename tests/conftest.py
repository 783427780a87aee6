import os
from pathlib import Path

# Lets sklearn's check_array_api_input run instead of being skipped; must precede scipy imports.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
# Tests never touch the network: real data sets come from the shared data folder.
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "TABNN_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["TABNN_DATA"] = str(_SHARED)
