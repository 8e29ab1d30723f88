"""Writing a tool's figures: one JSON file, its folder made, the path printed."""
import json
import os
import os.path as osp


def write_json(data, path: str) -> None:
    """Write ``data`` to ``path`` as indented JSON (making its folder) and print the path."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=2)
    print(f'wrote {path}')
