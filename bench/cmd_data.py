"""Commands of this area (filled in by its issue)."""


def register(app) -> None:
    pass
