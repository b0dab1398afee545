"""The coordinators' web console (issue 15). Placeholder until the console skeleton lands."""


def register(app):
    pass
