"""``headwater init``: copy the example project template into a new folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from headwater.errors import HeadwaterError

TEMPLATE = "project_template"


def scaffold(directory: Path) -> list[Path]:
    target = Path(directory)
    if target.exists() and any(target.iterdir()):
        raise HeadwaterError(f"{target} already exists and is not empty; choose a new folder")
    root = resources.files("headwater.cli").joinpath(TEMPLATE)
    created: list[Path] = []
    name = target.resolve().name.replace("-", "_")

    def copy(node, dest: Path) -> None:  # type: ignore[no-untyped-def]
        for child in node.iterdir():
            if child.name == "__pycache__":
                continue
            out = dest / child.name.replace(".tmpl", "")
            if child.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                copy(child, out)
            else:
                out.write_text(child.read_text().replace("{{project_name}}", name))
                created.append(out)

    target.mkdir(parents=True, exist_ok=True)
    copy(root, target)
    return created
