"""Packages for setuptools: the repository keeps the user's top-level folders ``core/`` and
``tui/``; they install as ``hedgedesk.core`` and ``hedgedesk.tui`` so that hedgedesk never takes
the generic import names ``core`` and ``tui`` from other projects in the same environment.
Everything else is declared in pyproject.toml.
"""

from setuptools import find_packages, setup

ROOTS = ("core", "tui")

setup(
    packages=[
        f"hedgedesk.{p}"
        for p in find_packages(include=[f"{r}{s}" for r in ROOTS for s in ("", ".*")])
    ],
    package_dir={f"hedgedesk.{r}": r for r in ROOTS},
)
