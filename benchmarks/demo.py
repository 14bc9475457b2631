"""``make demo``: the main job on the embedded synthetic faces, with no data or weights to fetch."""

from __future__ import annotations

from pathlib import Path

from facebox.benchmarks import localize


def main() -> None:
    localize.main(
        [
            "--data",
            "synthetic?seed=1",
            "--policy",
            "oracle",
            "--policy",
            "random",
            "--episodes",
            "200",
            "--out",
            str(Path("results") / "demo"),
        ]
    )


if __name__ == "__main__":
    main()
