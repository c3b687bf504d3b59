# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Maverick Applications
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test tooling, not part of the collection: runs one command when a play starts.

Lets a verifier put another run's change exactly between two plays of a real
playbook (another run takes the app lock after the plan, before the switch),
with no timing window. Enabled by the test through the environment:
  ANSIBLE_CALLBACK_PLUGINS=<this directory> ANSIBLE_CALLBACKS_ENABLED=between_plays
  MR_BETWEEN_PLAYS_PLAY=<the play's name prefix> MR_BETWEEN_PLAYS_ARGV=<JSON argument list>
"""

from __future__ import annotations

import json
import os
import subprocess

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: between_plays
type: aggregate
short_description: Test tooling - run a command when a named play starts
description: Runs E(MR_BETWEEN_PLAYS_ARGV) (a JSON argument list) once, when a play whose name starts with E(MR_BETWEEN_PLAYS_PLAY) starts.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "between_plays"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._play = os.environ.get("MR_BETWEEN_PLAYS_PLAY", "")
        self._argv = json.loads(os.environ.get("MR_BETWEEN_PLAYS_ARGV", "[]"))
        self._done = False

    def v2_playbook_on_play_start(self, play):
        if self._done or not self._play or not play.get_name().startswith(self._play):
            return
        self._done = True
        subprocess.run(self._argv, check=True)
