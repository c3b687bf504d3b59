"""Modules run as they do on a managed host.

Importing any controller code (ansible.template, used by role tests) flips
ansible.module_utils._internal.is_controller to True for the whole process;
then module warnings go to the controller's display instead of the result.
"""

import pytest
from ansible.module_utils import _internal, basic

from http_testlib import App


@pytest.fixture(autouse=True)
def module_side(monkeypatch):
    monkeypatch.setattr(_internal, "is_controller", False)


@pytest.fixture
def warned(monkeypatch):
    """What the module warned, per test (module warnings are process-global otherwise)."""
    messages = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: messages.append(msg))
    return messages


@pytest.fixture
def app():
    """app(*script) starts a scripted /health endpoint on loopback (http_testlib.App)."""
    apps = []

    def start(*script):
        apps.append(App(script))
        return apps[-1]
    yield start
    for running in apps:
        running.close()
